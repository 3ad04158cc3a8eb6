/* cart.c: a shopping cart on Dyna, the Dynamo paper's own example, with libdyna.
 *
 * A cart is one key ("cart:<user>") whose value is the list of items, one per line,
 * sorted. Two sessions of the same user (say a phone and a laptop) add items at the same
 * time, each from what it read before: Dyna keeps both writes as siblings rather than
 * losing one. The next reader merges the siblings (the union of their items: an added
 * item is never lost) and writes the merge back with the context it read, which
 * supersedes both siblings. Checkout deletes the cart with its context.
 *
 *   usage: example_cart [--seeds HOST:PORT,...] [--user NAME]
 *
 * Prints each step; exits 0 when the cart behaved as described, 1 otherwise. */
#include "dyna.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ITEMS 64

typedef struct cart {
  char *item[MAX_ITEMS];
  size_t n;
} cart_t;

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds item unless present (keeps the cart a set). */
static void cart_add(cart_t *c, const char *item, size_t len) {
  for (size_t i = 0; i < c->n; i++)
    if (strlen(c->item[i]) == len && !memcmp(c->item[i], item, len)) return;
  if (c->n == MAX_ITEMS || len == 0) return;
  c->item[c->n] = strndup(item, len);
  if (c->item[c->n]) c->n++;
}

/* Adds every line of one stored value. */
static void cart_add_value(cart_t *c, const dyna_value_t *v) {
  const char *p = (const char *)v->data, *end = p + v->len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    cart_add(c, p, len);
    p += len + 1;
  }
}

/* The merge of all siblings: the union of their items, sorted. */
static void cart_from_siblings(cart_t *c, const dyna_siblings_t *s) {
  c->n = 0;
  for (size_t i = 0; i < s->n; i++) cart_add_value(c, &s->values[i]);
  qsort(c->item, c->n, sizeof(char *), cmp_str);
}

/* Encodes the cart as one value (caller frees). */
static char *cart_encode(const cart_t *c, size_t *len) {
  size_t n = 0;
  for (size_t i = 0; i < c->n; i++) n += strlen(c->item[i]) + 1;
  char *out = malloc(n + 1), *p = out;
  if (!out) return NULL;
  for (size_t i = 0; i < c->n; i++) p += sprintf(p, "%s\n", c->item[i]);
  *p = 0;
  *len = n;
  return out;
}

static void cart_free(cart_t *c) {
  for (size_t i = 0; i < c->n; i++) free(c->item[i]);
  c->n = 0;
}

static void cart_print(const char *what, const cart_t *c) {
  printf("  %s: [", what);
  for (size_t i = 0; i < c->n; i++) printf("%s%s", i ? ", " : "", c->item[i]);
  printf("]\n");
}

static int check(int rc, dyna_client_t *c, const char *what) {
  if (rc) fprintf(stderr, "cart: %s: %s (%s)\n", what, dyna_strerror(rc), dyna_client_errmsg(c));
  return rc;
}

/* Reads the cart: the merged items and the context that covers every sibling read. */
static int cart_read(dyna_client_t *c, const char *key, cart_t *cart, char **ctx,
                     size_t *siblings) {
  dyna_siblings_t s;
  int rc = check(dyna_get(c, key, strlen(key), 0, &s), c, "get");
  if (rc) return rc;
  cart_from_siblings(cart, &s);
  *siblings = s.n;
  *ctx = strdup(s.context); /* the context is ours to keep: copy it before freeing s */
  dyna_siblings_free(&s);
  return *ctx ? 0 : DYNA_ENOMEM;
}

/* One session adds an item to the cart it read earlier (cart + ctx), without reading
 * again: exactly what makes concurrent writes. */
static int cart_put(dyna_client_t *c, const char *key, const cart_t *cart, const char *ctx) {
  size_t len;
  char *val = cart_encode(cart, &len);
  if (!val) return DYNA_ENOMEM;
  int rc = check(dyna_put(c, key, strlen(key), ctx, val, len, 0, NULL), c, "put");
  free(val);
  return rc;
}

int main(int argc, char **argv) {
  const char *seeds = "127.0.0.1:7001";
  char user[64];
  snprintf(user, sizeof(user), "shopper-%d", (int)getpid());
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--seeds")) seeds = argv[i + 1];
    else if (!strcmp(argv[i], "--user")) snprintf(user, sizeof(user), "%s", argv[i + 1]);
    else { fprintf(stderr, "usage: example_cart [--seeds HOST:PORT,...] [--user NAME]\n"); return 2; }
  }
  char key[96];
  snprintf(key, sizeof(key), "cart:%s", user);

  /* Two independent sessions, as two devices would have. */
  dyna_client_t *phone = NULL, *laptop = NULL;
  int ok = 0;
  cart_t cart = {0}, a = {0}, b = {0};
  char *ctx = NULL, *ctx_a = NULL, *ctx_b = NULL;
  size_t nsib = 0;
  if (check(dyna_client_open(seeds, NULL, &phone), phone, "open (phone)") ||
      check(dyna_client_open(seeds, NULL, &laptop), laptop, "open (laptop)"))
    goto done;
  printf("cart %s on %s (ring version %llu, %zu nodes known)\n", key, seeds,
         (unsigned long long)dyna_client_ring_version(phone), dyna_client_node_count(phone));

  /* 1. Both sessions read the (empty) cart, then each adds items from what it read. */
  if (cart_read(phone, key, &a, &ctx_a, &nsib) || cart_read(laptop, key, &b, &ctx_b, &nsib)) goto done;
  cart_add(&a, "book", 4);
  cart_add(&a, "pencil", 6);
  cart_add(&b, "coffee", 6);
  if (cart_put(phone, key, &a, ctx_a) || cart_put(laptop, key, &b, ctx_b)) goto done;
  printf("1. phone added book, pencil; laptop added coffee, both from the empty cart\n");

  /* 2. A read sees both writes as siblings; merging them loses nothing. */
  if (cart_read(phone, key, &cart, &ctx, &nsib)) goto done;
  printf("2. read: %zu siblings\n", nsib);
  cart_print("merged", &cart);
  if (nsib != 2 || cart.n != 3) { fprintf(stderr, "cart: expected 2 siblings and 3 items\n"); goto done; }

  /* 3. Write the merge back with the context read: it supersedes both siblings. */
  cart_add(&cart, "stapler", 7);
  qsort(cart.item, cart.n, sizeof(char *), cmp_str);
  if (cart_put(phone, key, &cart, ctx)) goto done;
  free(ctx);
  ctx = NULL;
  cart_free(&cart);
  if (cart_read(laptop, key, &cart, &ctx, &nsib)) goto done;
  printf("3. merged write (plus stapler) with the context read: %zu sibling\n", nsib);
  cart_print("cart", &cart);
  if (nsib != 1 || cart.n != 4) { fprintf(stderr, "cart: expected 1 sibling and 4 items\n"); goto done; }

  /* 4. Checkout: delete with the context; the cart is then empty. */
  if (check(dyna_del(laptop, key, strlen(key), ctx, 0, NULL), laptop, "del")) goto done;
  free(ctx);
  ctx = NULL;
  cart_free(&cart);
  if (cart_read(phone, key, &cart, &ctx, &nsib)) goto done;
  printf("4. checkout (delete with context): %zu siblings\n", nsib);
  if (nsib != 0) { fprintf(stderr, "cart: expected an empty cart after checkout\n"); goto done; }
  ok = 1;
  printf("cart: ok\n");
done:
  cart_free(&cart);
  cart_free(&a);
  cart_free(&b);
  free(ctx);
  free(ctx_a);
  free(ctx_b);
  dyna_client_close(phone);
  dyna_client_close(laptop);
  return ok ? 0 : 1;
}
