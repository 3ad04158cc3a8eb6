/* dyna_api.h: DYNA_API, the mark of a function that libdyna exports.
 *
 * libdyna.so is compiled with -fvisibility=hidden: a function is visible to programs
 * that link the shared library only when its declaration in include/ carries DYNA_API.
 * Everything else (the RESP codec, buffers, allocation, routing internals) stays inside
 * the library, so a program cannot come to depend on it by accident, and the dynamic
 * symbol table is exactly the documented API (tests/lint/exports.sh checks this). */
#ifndef DYNA_API_H
#define DYNA_API_H

#if defined(__GNUC__) || defined(__clang__)
#define DYNA_API __attribute__((visibility("default")))
#else
#define DYNA_API
#endif

#endif
