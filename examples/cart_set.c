/* cart_set.c: the shopping cart again, as a Dyna set: a cart that never loses an add,
 * with no merging in the client.
 *
 * cart.c keeps a cart as one opaque value and merges its siblings by hand. Here the cart
 * ("scart:<user>") is a set that every replica merges by itself (an add-wins set): two
 * sessions of one user (a phone and a laptop, two clients) add items with dyna_sadd at
 * the same time, without reading first; one removes an item with dyna_srem (it removes
 * only what its coordinator had seen: an add of the same item made concurrently
 * elsewhere would win); dyna_smembers lists the cart. A counter (dyna_incrby) counts the
 * user's visits, and the cart expires an hour after its last change (dyna_expire,
 * dyna_ttl), as an abandoned session should.
 *
 *   usage: example_cart_set [--seeds HOST:PORT,...] [--user NAME]
 *
 * Prints each step; exits 0 when the cart behaved as described, 1 otherwise. */
#include "dyna.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check(int rc, dyna_client_t *c, const char *what) {
  if (rc == 0) return 0;
  fprintf(stderr, "%s: %s (%s)\n", what, dyna_strerror(rc), dyna_client_errmsg(c));
  return 1;
}

static int cmp_value(const void *a, const void *b) {
  const dyna_value_t *x = a, *y = b;
  return strcmp((const char *)x->data, (const char *)y->data);
}

/* Adds one item from a session. */
static int add(dyna_client_t *c, const char *key, const char *item) {
  const uint8_t *m[] = {(const uint8_t *)item};
  size_t ml[] = {strlen(item)};
  return dyna_sadd(c, key, strlen(key), 1, m, ml, NULL);
}

/* Lists the cart sorted, as "[a, b, c]", into out (size bytes); returns the count or
 * -1 on error. */
static long list(dyna_client_t *c, const char *key, char *out, size_t size) {
  dyna_values_t v;
  if (check(dyna_smembers(c, key, strlen(key), &v), c, "smembers")) return -1;
  if (v.n) qsort(v.values, v.n, sizeof(dyna_value_t), cmp_value);
  size_t off = (size_t)snprintf(out, size, "[");
  for (size_t i = 0; i < v.n && off < size; i++)
    off += (size_t)snprintf(out + off, size - off, "%s%s", i ? ", " : "", (char *)v.values[i].data);
  if (off < size) snprintf(out + off, size - off, "]");
  long n = (long)v.n;
  dyna_values_free(&v);
  return n;
}

int main(int argc, char **argv) {
  const char *seeds = "127.0.0.1:7001";
  char user[64] = "ann";
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) { fprintf(stderr, "usage: example_cart_set [--seeds HOST:PORT,...] [--user NAME]\n"); return 2; }
    if (!strcmp(argv[i], "--seeds")) seeds = argv[i + 1];
    else if (!strcmp(argv[i], "--user")) snprintf(user, sizeof(user), "%s", argv[i + 1]);
    else { fprintf(stderr, "usage: example_cart_set [--seeds HOST:PORT,...] [--user NAME]\n"); return 2; }
  }
  char key[96], visits[96], shown[512];
  snprintf(key, sizeof(key), "scart:%s", user);
  snprintf(visits, sizeof(visits), "visits:%s", user);
  dyna_client_t *phone = NULL, *laptop = NULL;
  int bad = 1;
  if (check(dyna_client_open(seeds, NULL, &phone), phone, "open (phone)") ||
      check(dyna_client_open(seeds, NULL, &laptop), laptop, "open (laptop)"))
    goto out;
  printf("cart %s (a set) on %s\n", key, seeds);
  /* start from an empty cart: a plain DYNA.DEL would leave the set; SREM what is there */
  dyna_values_t old;
  if (check(dyna_smembers(phone, key, strlen(key), &old), phone, "smembers")) goto out;
  for (size_t i = 0; i < old.n; i++) {
    const uint8_t *m[] = {old.values[i].data};
    size_t ml[] = {old.values[i].len};
    if (check(dyna_srem(phone, key, strlen(key), 1, m, ml, NULL), phone, "srem")) {
      dyna_values_free(&old);
      goto out;
    }
  }
  dyna_values_free(&old);

  /* 1. both sessions add at once, neither reads first */
  if (check(add(phone, key, "book"), phone, "sadd (phone)") ||
      check(add(laptop, key, "coffee"), laptop, "sadd (laptop)") ||
      check(add(phone, key, "pencil"), phone, "sadd (phone)") ||
      check(add(laptop, key, "book"), laptop, "sadd (laptop)"))
    goto out;
  long n = list(laptop, key, shown, sizeof(shown));
  printf("1. phone added book, pencil; laptop added coffee, book: %s\n", shown);
  if (n != 3 || strcmp(shown, "[book, coffee, pencil]")) goto out;

  /* 2. the laptop removes the pencil it has seen */
  const uint8_t *pencil[] = {(const uint8_t *)"pencil"};
  size_t pencil_len[] = {6};
  int64_t removed = 0;
  if (check(dyna_srem(laptop, key, strlen(key), 1, pencil, pencil_len, &removed), laptop, "srem"))
    goto out;
  n = list(phone, key, shown, sizeof(shown));
  printf("2. laptop removed pencil (%lld removed): %s\n", (long long)removed, shown);
  if (removed != 1 || n != 2 || strcmp(shown, "[book, coffee]")) goto out;

  /* 3. a visit counter, and an expiry for the abandoned cart */
  int64_t count = 0, ttl = 0;
  int set = 0;
  if (check(dyna_incrby(phone, visits, strlen(visits), 1, &count), phone, "incrby") ||
      check(dyna_expire(phone, key, strlen(key), 3600, &set), phone, "expire") ||
      check(dyna_ttl(laptop, key, strlen(key), &ttl), laptop, "ttl"))
    goto out;
  char type[16];
  if (check(dyna_type(laptop, key, strlen(key), type, sizeof(type)), laptop, "type")) goto out;
  printf("3. visits %lld; cart is a %s, expires in %llds\n", (long long)count, type,
         (long long)ttl);
  if (count < 1 || !set || ttl <= 0 || ttl > 3600 || strcmp(type, "set")) goto out;
  bad = 0;
  printf("ok\n");
out:
  dyna_client_close(phone);
  dyna_client_close(laptop);
  return bad;
}
