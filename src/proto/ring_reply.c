/* ring_reply.c: the DYNA.RING reply's encoder and decoder (layout in ring_reply.h). */
#include "proto/ring_reply.h"
#include "util/alloc.h"
#include "util/err.h"
#include "util/keyhash.h"
#include <string.h>

void dyna_ring_reply_put_head(dyna_buf_t *b, uint32_t size, uint32_t n, uint64_t version,
                              size_t nmembers) {
  dyna_resp_put_array(b, 5);
  dyna_resp_put_int(b, size);
  dyna_resp_put_int(b, n);
  dyna_resp_put_int(b, (int64_t)version);
  dyna_resp_put_array(b, nmembers);
}

void dyna_ring_reply_put_member(dyna_buf_t *b, uint64_t id, const char *addr, const char *name,
                                const char *status) {
  static const char hex[] = "0123456789abcdef";
  char idtxt[16];
  for (int i = 0; i < 16; i++) idtxt[i] = hex[(id >> (60 - 4 * i)) & 15];
  dyna_resp_put_array(b, 4);
  dyna_resp_put_bulk(b, idtxt, sizeof(idtxt));
  dyna_resp_put_bulk_str(b, addr);
  dyna_resp_put_bulk_str(b, name);
  dyna_resp_put_bulk_str(b, status);
}

void dyna_ring_reply_put_prefs_head(dyna_buf_t *b, uint32_t size) { dyna_resp_put_array(b, size); }

void dyna_ring_reply_put_preflist(dyna_buf_t *b, const uint16_t *idx, size_t k) {
  dyna_resp_put_array(b, k);
  for (size_t j = 0; j < k; j++) dyna_resp_put_int(b, idx[j]);
}

void dyna_ring_reply_encode(dyna_buf_t *b, const dyna_ring_reply_t *r) {
  dyna_ring_reply_put_head(b, r->size, r->n, r->version, r->nmembers);
  for (size_t i = 0; i < r->nmembers; i++) {
    const dyna_ring_reply_member_t *m = &r->members[i];
    dyna_resp_put_array(b, 4);
    dyna_resp_put_bulk_str(b, m->id);
    dyna_resp_put_bulk_str(b, m->addr);
    dyna_resp_put_bulk_str(b, m->name);
    dyna_resp_put_bulk_str(b, m->status);
  }
  dyna_ring_reply_put_prefs_head(b, r->size);
  for (uint32_t p = 0; p < r->size; p++)
    dyna_ring_reply_put_preflist(b, &r->prefs[(size_t)p * r->n], r->plen[p]);
}

static char *dup_bulk(const dyna_resp_value_t *v) {
  char *s = dyna_malloc(v->len + 1);
  if (!s) return NULL;
  memcpy(s, v->str, v->len);
  s[v->len] = 0;
  return s;
}

void dyna_ring_reply_free(dyna_ring_reply_t *r) {
  if (!r) return;
  for (size_t i = 0; i < r->nmembers; i++) {
    dyna_free(r->members[i].id);
    dyna_free(r->members[i].addr);
    dyna_free(r->members[i].name);
    dyna_free(r->members[i].status);
  }
  dyna_free(r->members);
  dyna_free(r->prefs);
  dyna_free(r->plen);
  memset(r, 0, sizeof(*r));
}

static int is_str(const dyna_resp_value_t *v) {
  return v->type == DYNA_RESP_BULK || v->type == DYNA_RESP_STRING;
}

int dyna_ring_reply_decode(const dyna_resp_value_t *v, dyna_ring_reply_t *r) {
  memset(r, 0, sizeof(*r));
  int rc = DYNA_EPROTO;
  if (v->type != DYNA_RESP_ARRAY || v->n != 5) goto fail;
  const dyna_resp_value_t *e = v->elem;
  if (e[0].type != DYNA_RESP_INTEGER || e[1].type != DYNA_RESP_INTEGER ||
      e[2].type != DYNA_RESP_INTEGER || e[3].type != DYNA_RESP_ARRAY ||
      e[4].type != DYNA_RESP_ARRAY)
    goto fail;
  if (e[0].integer < 1 || e[0].integer > (int64_t)DYNA_RING_MAX_SIZE ||
      !dyna_ring_size_valid((uint32_t)e[0].integer))
    goto fail;
  if (e[1].integer < 1 || e[1].integer > DYNA_RING_REPLY_N_MAX || e[2].integer < 0) goto fail;
  if ((int64_t)e[4].n != e[0].integer || e[3].n > DYNA_RING_REPLY_MEMBERS_MAX) goto fail;
  r->size = (uint32_t)e[0].integer;
  r->n = (uint32_t)e[1].integer;
  r->version = (uint64_t)e[2].integer;
  rc = DYNA_ENOMEM;
  if (e[3].n) {
    r->members = dyna_calloc(e[3].n, sizeof(*r->members));
    if (!r->members) goto fail;
  }
  for (size_t i = 0; i < e[3].n; i++) {
    const dyna_resp_value_t *m = &e[3].elem[i];
    if (m->type != DYNA_RESP_ARRAY || m->n != 4 || !is_str(&m->elem[0]) ||
        !is_str(&m->elem[1]) || !is_str(&m->elem[2]) || !is_str(&m->elem[3])) {
      rc = DYNA_EPROTO;
      goto fail;
    }
    dyna_ring_reply_member_t *mm = &r->members[r->nmembers++];
    mm->id = dup_bulk(&m->elem[0]);
    mm->addr = dup_bulk(&m->elem[1]);
    mm->name = dup_bulk(&m->elem[2]);
    mm->status = dup_bulk(&m->elem[3]);
    if (!mm->id || !mm->addr || !mm->name || !mm->status) goto fail;
  }
  r->prefs = dyna_calloc((size_t)r->size * r->n, sizeof(uint16_t));
  r->plen = dyna_calloc(r->size, 1);
  if (!r->prefs || !r->plen) goto fail;
  rc = DYNA_EPROTO;
  for (uint32_t p = 0; p < r->size; p++) {
    const dyna_resp_value_t *pl = &e[4].elem[p];
    if (pl->type != DYNA_RESP_ARRAY || pl->n > r->n) goto fail;
    for (size_t j = 0; j < pl->n; j++) {
      const dyna_resp_value_t *x = &pl->elem[j];
      if (x->type != DYNA_RESP_INTEGER || x->integer < 0 || (uint64_t)x->integer >= r->nmembers)
        goto fail;
      r->prefs[(size_t)p * r->n + j] = (uint16_t)x->integer;
    }
    r->plen[p] = (uint8_t)pl->n;
  }
  return 0;
fail:
  dyna_ring_reply_free(r);
  return rc;
}
