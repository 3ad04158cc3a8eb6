/* test_ring_sites.c: unit tests for placement with sites (data centres, core/ring_sites.c).
 *
 * Checks the Sites part of ring.h from the outside: a preference list holds exactly
 * n(site) distinct members of each site, in site-name order, spread over each site's
 * zones, then every other member as a fallback; a join or leave in one site changes no
 * other site's replicas; the replication setting parses and prints back; the encoding
 * round-trips and refuses what it must; a ring whose members declare no site is
 * exactly the ring of a build without sites. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "util/buf.h"
#include "util/err.h"
#include "core/ring.h"

#define Q 256u

/* Member i of site dc in zone z (ids are scattered, sites interleaved). */
static dyna_ring_member_t mk(uint64_t id, const char *dc, const char *zone) {
  dyna_ring_member_t m;
  memset(&m, 0, sizeof m);
  m.id = id;
  snprintf(m.dc, sizeof m.dc, "%s", dc);
  snprintf(m.zone, sizeof m.zone, "%s", zone);
  return m;
}

/* Two sites: "east" ids 100+7i, "west" ids 101+7i, k members each, zones z0..z2. */
static size_t two_sites(dyna_ring_member_t *m, size_t k) {
  char z[8];
  size_t n = 0;
  for (size_t i = 0; i < k; i++) {
    snprintf(z, sizeof z, "z%zu", i % 3);
    m[n++] = mk(100 + 7 * i, "east", z);
    m[n++] = mk(101 + 7 * i, "west", z);
  }
  return n;
}

static const dyna_ring_member_t *find(const dyna_ring_member_t *m, size_t n, uint64_t id) {
  for (size_t i = 0; i < n; i++)
    if (m[i].id == id) return &m[i];
  return NULL;
}

static dyna_repl_t repl_of(const char *text) {
  dyna_repl_t r;
  assert_int_equal(dyna_repl_parse(text, 3, 16, &r), 0);
  return r;
}

/* The homes of p that belong to site dc, in list order, into out; returns the count. */
static size_t homes_in(const dyna_ring_t *r, uint32_t p, const dyna_repl_t *repl, const dyna_ring_member_t *m,
                       size_t n, const char *dc, uint64_t *out) {
  uint64_t pl[64];
  size_t nh = 0, k = 0;
  dyna_ring_preflist_repl(r, p, repl, pl, 64, &nh);
  for (size_t i = 0; i < nh; i++)
    if (!strcmp(find(m, n, pl[i])->dc, dc)) out[k++] = pl[i];
  return k;
}

static void test_repl_parse(void **state) {
  (void)state;
  dyna_repl_t r = repl_of("3");
  assert_int_equal(r.n, 3);
  assert_int_equal(r.nsites, 0);
  r = repl_of("east:3,west:2");
  assert_int_equal(r.n, 3); /* the default for sites not listed */
  assert_int_equal(r.nsites, 2);
  assert_int_equal(dyna_repl_site_n(&r, "east"), 3);
  assert_int_equal(dyna_repl_site_n(&r, "west"), 2);
  assert_int_equal(dyna_repl_site_n(&r, "north"), 3);
  r = repl_of("1,east:4");
  assert_int_equal(dyna_repl_site_n(&r, "north"), 1);
  char text[128];
  dyna_repl_format(&r, 3, text, sizeof text);
  assert_string_equal(text, "1,east:4");
  dyna_repl_format(&(dyna_repl_t){.n = 3}, 3, text, sizeof text);
  assert_string_equal(text, "3");
  r = repl_of("east:3,west:2");
  dyna_repl_format(&r, 3, text, sizeof text);
  assert_string_equal(text, "east:3,west:2");
  static const char *bad[] = {"", "0", "17", "east:0", "east:3,east:2", ":3", "east:", "east:x",
                              "3,4", "east:9,west:8", "a b:1", "east:3,", ",east:3", NULL};
  dyna_repl_t keep = repl_of("5");
  for (size_t i = 0; bad[i]; i++) {
    dyna_repl_t t = keep;
    if (dyna_repl_parse(bad[i], 3, 16, &t) != DYNA_EINVAL) fail_msg("'%s' was taken", bad[i]);
    assert_memory_equal(&t, &keep, sizeof t);
  }
}

/* Every partition: n(site) distinct members of each site, sites in name order, each
 * site's homes in distinct zones, then every other member once. */
static void test_preflist_per_site(void **state) {
  (void)state;
  dyna_ring_member_t m[12];
  size_t n = two_sites(m, 6);
  dyna_repl_t repl = repl_of("east:3,west:2");
  dyna_ring_t empty, r;
  dyna_ring_init(&empty);
  dyna_ring_init(&r);
  assert_int_equal(dyna_ring_rebalance_repl(&empty, Q, m, n, &repl, &r), 0);
  assert_int_equal(r.nsites, 2);
  assert_string_equal(dyna_ring_site_name(&r, 0), "east");
  assert_string_equal(dyna_ring_site_name(&r, 1), "west");
  assert_int_equal(dyna_ring_site_homes(&r, 0, &repl), 3);
  assert_int_equal(dyna_ring_site_homes(&r, 1, &repl), 2);
  for (uint32_t p = 0; p < Q; p++) {
    uint64_t pl[64];
    size_t nh = 0, k = dyna_ring_preflist_repl(&r, p, &repl, pl, 64, &nh);
    assert_int_equal(nh, 5);
    assert_int_equal(k, n);
    for (size_t i = 0; i < k; i++)
      for (size_t j = i + 1; j < k; j++) assert_true(pl[i] != pl[j]);
    for (size_t i = 0; i < nh; i++) {
      const dyna_ring_member_t *x = find(m, n, pl[i]);
      assert_non_null(x);
      assert_string_equal(x->dc, i < 3 ? "east" : "west");
      assert_int_equal(dyna_ring_site_of(&r, pl[i]), i < 3 ? 0 : 1);
      for (size_t j = i < 3 ? 0 : 3; j < i; j++) /* zones distinct within the site */
        assert_string_not_equal(find(m, n, pl[j])->zone, x->zone);
    }
    for (size_t i = 0; i < nh; i++) assert_true(dyna_ring_is_replica(&r, p, 3, pl[i]) || i >= 3);
  }
  /* A uniform setting: 3 in every site. */
  uint64_t pl[64];
  size_t nh = 0;
  dyna_repl_t u = dyna_repl_uniform(3);
  dyna_ring_preflist_repl(&r, 7, &u, pl, 64, &nh);
  assert_int_equal(nh, 6);
  assert_int_equal(dyna_ring_preflist(&r, 7, 3, pl, 6), 6);
  dyna_ring_clear(&r);
}

/* A join, then a leave, in east: west's homes of every partition stay as they were,
 * while east's change somewhere (the test would pass vacuously otherwise). */
static void test_change_stays_in_its_site(void **state) {
  (void)state;
  dyna_ring_member_t m[16];
  size_t n = two_sites(m, 5);
  dyna_repl_t repl = repl_of("3");
  dyna_ring_t empty, a, b, c;
  dyna_ring_init(&empty);
  dyna_ring_init(&a);
  dyna_ring_init(&b);
  dyna_ring_init(&c);
  dyna_ring_t a0;
  dyna_ring_init(&a0);
  assert_int_equal(dyna_ring_rebalance_repl(&empty, Q, m, n, &repl, &a0), 0);
  m[n++] = mk(1001, "west", "z2"); /* a history in west: its ring is not a fresh one */
  assert_int_equal(dyna_ring_rebalance_repl(&a0, 0, m, n, &repl, &a), 0);
  dyna_ring_clear(&a0);
  m[n++] = mk(999, "east", "z1"); /* join in east */
  assert_int_equal(dyna_ring_rebalance_repl(&a, 0, m, n, &repl, &b), 0);
  size_t east_moved = 0;
  for (uint32_t p = 0; p < Q; p++) {
    uint64_t wa[16], wb[16], ea[16], eb[16];
    size_t ka = homes_in(&a, p, &repl, m, n, "west", wa), kb = homes_in(&b, p, &repl, m, n, "west", wb);
    assert_int_equal(ka, 3);
    assert_int_equal(kb, 3);
    assert_memory_equal(wa, wb, ka * sizeof wa[0]);
    ka = homes_in(&a, p, &repl, m, n, "east", ea);
    kb = homes_in(&b, p, &repl, m, n, "east", eb);
    east_moved += ka != kb || memcmp(ea, eb, ka * sizeof ea[0]) != 0;
  }
  assert_true(east_moved > 0);
  /* balanced within east's lane of zone z1 (ring.h, zone lanes): z0..z2 each hold a
   * third of the partitions, shared by that zone's members in east */
  uint32_t got = dyna_ring_owned(&b, 999), inz = 0, lane = Q / 3 + (1 < Q % 3);
  for (size_t i = 0; i < n; i++) inz += !strcmp(m[i].dc, "east") && !strcmp(m[i].zone, "z1");
  assert_true(got == lane / inz || got == lane / inz + 1);
  /* leave: the first east member goes */
  dyna_ring_member_t left[16];
  size_t nl = 0;
  for (size_t i = 0; i < n; i++)
    if (m[i].id != 100) left[nl++] = m[i];
  assert_int_equal(dyna_ring_rebalance_repl(&b, 0, left, nl, &repl, &c), 0);
  assert_int_equal(dyna_ring_site_of(&c, 100), -1);
  for (uint32_t p = 0; p < Q; p++) {
    uint64_t wb[16], wc[16];
    size_t kb = homes_in(&b, p, &repl, m, n, "west", wb), kc = homes_in(&c, p, &repl, left, nl, "west", wc);
    assert_int_equal(kb, kc);
    assert_memory_equal(wb, wc, kb * sizeof wb[0]);
  }
  /* and a change in west leaves east's as they were */
  left[nl++] = mk(1002, "west", "z2");
  dyna_ring_t d;
  dyna_ring_init(&d);
  assert_int_equal(dyna_ring_rebalance_repl(&c, 0, left, nl, &repl, &d), 0);
  assert_true(dyna_ring_equal(&c.site[0], &d.site[0]));
  assert_false(dyna_ring_equal(&c.site[1], &d.site[1]));
  dyna_ring_clear(&a);
  dyna_ring_clear(&b);
  dyna_ring_clear(&c);
  dyna_ring_clear(&d);
}

/* No member declares a site: the very ring (and bytes) of the single-site code. */
static void test_no_sites_unchanged(void **state) {
  (void)state;
  dyna_ring_member_t m[8];
  for (size_t i = 0; i < 8; i++) m[i] = mk(50 + 3 * i, "", i % 2 ? "za" : "zb");
  dyna_ring_t empty, a, b;
  dyna_ring_init(&empty);
  dyna_ring_init(&a);
  dyna_ring_init(&b);
  dyna_repl_t u = dyna_repl_uniform(3);
  assert_int_equal(dyna_ring_rebalance(&empty, Q, m, 8, 3, &a), 0);
  assert_int_equal(dyna_ring_rebalance_repl(&empty, Q, m, 8, &u, &b), 0);
  assert_int_equal(a.nsites, 0);
  assert_true(dyna_ring_equal(&a, &b));
  dyna_buf_t e = DYNA_BUF_INIT;
  dyna_ring_encode(&a, &e);
  assert_true(e.data[2] != 0); /* size 256 (2 bytes), then nmembers 8: no site marker */
  for (uint32_t p = 0; p < Q; p++) {
    uint64_t x[8], y[8];
    size_t nh = 0;
    assert_int_equal(dyna_ring_preflist(&a, p, 3, x, 8), dyna_ring_preflist_repl(&a, p, &u, y, 8, &nh));
    assert_int_equal(nh, 3);
    assert_memory_equal(x, y, sizeof x);
  }
  dyna_buf_free(&e);
  dyna_ring_clear(&a);
  dyna_ring_clear(&b);
}

static void test_encode_sites(void **state) {
  (void)state;
  dyna_ring_member_t m[12];
  size_t n = two_sites(m, 4);
  dyna_repl_t repl = repl_of("3");
  dyna_ring_t empty, a, b, c;
  dyna_ring_init(&empty);
  dyna_ring_init(&a);
  dyna_ring_init(&b);
  dyna_ring_init(&c);
  assert_int_equal(dyna_ring_rebalance_repl(&empty, Q, m, n, &repl, &a), 0);
  dyna_buf_t e = DYNA_BUF_INIT, e2 = DYNA_BUF_INIT;
  dyna_ring_encode(&a, &e);
  dyna_buf_put_u8(&e, 0xAB); /* what follows is left */
  dyna_rd_t rd;
  dyna_rd_init(&rd, e.data, e.len);
  assert_int_equal(dyna_ring_read(&rd, &b), 0);
  assert_int_equal(dyna_rd_left(&rd), 1);
  assert_true(dyna_ring_equal(&a, &b));
  assert_int_equal(b.nmembers, n);
  assert_string_equal(b.members[dyna_ring_member_index(&b, 101)].dc, "west");
  dyna_ring_encode(&b, &e2);
  assert_int_equal(e2.len, e.len - 1);
  assert_memory_equal(e2.data, e.data, e2.len);
  assert_int_equal(dyna_ring_copy(&c, &b), 0);
  assert_true(dyna_ring_equal(&a, &c));
  /* every truncation is refused */
  for (size_t cut = 0; cut < e2.len; cut++) {
    dyna_rd_init(&rd, e2.data, cut);
    assert_int_not_equal(dyna_ring_read(&rd, &c), 0);
  }
  /* a lone site named "" and sites out of order are refused */
  dyna_buf_t bad = DYNA_BUF_INIT;
  dyna_ring_t one;
  dyna_ring_init(&one);
  assert_int_equal(dyna_ring_single(&one, 4, &(dyna_ring_member_t){5, "", ""}), 0);
  dyna_buf_put_varint(&bad, 4);
  dyna_buf_put_varint(&bad, 0);
  dyna_buf_put_varint(&bad, 1);
  dyna_buf_put_bytes(&bad, "", 0);
  dyna_buf_t body = DYNA_BUF_INIT;
  dyna_ring_encode(&one, &body);
  dyna_buf_put(&bad, body.data + 1, body.len - 1); /* its body after the size */
  dyna_rd_init(&rd, bad.data, bad.len);
  assert_int_equal(dyna_ring_read(&rd, &c), DYNA_ECORRUPT);
  dyna_buf_reset(&bad);
  dyna_buf_put_varint(&bad, 4);
  dyna_buf_put_varint(&bad, 0);
  dyna_buf_put_varint(&bad, 2);
  dyna_buf_put_bytes(&bad, "b", 1);
  dyna_buf_put(&bad, body.data + 1, body.len - 1);
  dyna_buf_put_bytes(&bad, "a", 1);
  dyna_ring_t other;
  dyna_ring_init(&other);
  assert_int_equal(dyna_ring_single(&other, 4, &(dyna_ring_member_t){6, "", ""}), 0);
  dyna_buf_t body2 = DYNA_BUF_INIT;
  dyna_ring_encode(&other, &body2);
  dyna_buf_put(&bad, body2.data + 1, body2.len - 1);
  dyna_rd_init(&rd, bad.data, bad.len);
  assert_int_equal(dyna_ring_read(&rd, &c), DYNA_ECORRUPT);
  /* the same two sites in order read fine; with one id in both they do not */
  dyna_buf_reset(&bad);
  dyna_buf_put_varint(&bad, 4);
  dyna_buf_put_varint(&bad, 0);
  dyna_buf_put_varint(&bad, 2);
  dyna_buf_put_bytes(&bad, "a", 1);
  dyna_buf_put(&bad, body.data + 1, body.len - 1);
  dyna_buf_put_bytes(&bad, "b", 1);
  dyna_buf_put(&bad, body2.data + 1, body2.len - 1);
  dyna_rd_init(&rd, bad.data, bad.len);
  assert_int_equal(dyna_ring_read(&rd, &c), 0);
  assert_int_equal(c.nsites, 2);
  dyna_buf_reset(&bad);
  dyna_buf_put_varint(&bad, 4);
  dyna_buf_put_varint(&bad, 0);
  dyna_buf_put_varint(&bad, 2);
  dyna_buf_put_bytes(&bad, "a", 1);
  dyna_buf_put(&bad, body.data + 1, body.len - 1);
  dyna_buf_put_bytes(&bad, "b", 1);
  dyna_buf_put(&bad, body.data + 1, body.len - 1);
  dyna_rd_init(&rd, bad.data, bad.len);
  assert_int_equal(dyna_ring_read(&rd, &c), DYNA_ECORRUPT);
  dyna_buf_free(&bad);
  dyna_buf_free(&body);
  dyna_buf_free(&body2);
  dyna_buf_free(&e);
  dyna_buf_free(&e2);
  dyna_ring_clear(&one);
  dyna_ring_clear(&other);
  dyna_ring_clear(&a);
  dyna_ring_clear(&b);
  dyna_ring_clear(&c);
}

/* A node taking a dead member's place in east moves nothing in west; a new member of
 * another site cannot take it. */
static void test_substitute_in_site(void **state) {
  (void)state;
  dyna_ring_member_t m[12];
  size_t n = two_sites(m, 4);
  dyna_repl_t repl = repl_of("3");
  dyna_ring_t empty, a, b;
  dyna_ring_init(&empty);
  dyna_ring_init(&a);
  dyna_ring_init(&b);
  assert_int_equal(dyna_ring_rebalance_repl(&empty, Q, m, n, &repl, &a), 0);
  dyna_ring_member_t wrong = mk(5000, "west", "z0"), right = mk(5000, "east", "z0");
  assert_int_equal(dyna_ring_substitute(&a, 100, &wrong, &b), DYNA_EINVAL);
  assert_int_equal(dyna_ring_substitute(&a, 100, &right, &b), 0);
  assert_int_equal(dyna_ring_owned(&b, 5000), dyna_ring_owned(&a, 100));
  assert_int_equal(dyna_ring_member_index(&b, 100), -1);
  assert_true(dyna_ring_equal(&a.site[1], &b.site[1]));
  assert_int_equal(dyna_ring_site_of(&b, 5000), 0);
  dyna_ring_clear(&a);
  dyna_ring_clear(&b);
}

/* Single with a site, and too many sites refused. */
static void test_single_and_limits(void **state) {
  (void)state;
  dyna_ring_t r;
  dyna_ring_init(&r);
  assert_int_equal(dyna_ring_single(&r, 16, &(dyna_ring_member_t){9, "z", "east"}), 0);
  assert_int_equal(r.nsites, 1);
  assert_int_equal(dyna_ring_owner(&r, 3), 9);
  assert_int_equal(dyna_ring_owned(&r, 9), 16);
  dyna_ring_member_t m[DYNA_SITES_MAX + 1];
  for (size_t i = 0; i <= DYNA_SITES_MAX; i++) {
    char dc[8];
    snprintf(dc, sizeof dc, "s%zu", i);
    m[i] = mk(10 + i, dc, "");
  }
  dyna_ring_t empty, out;
  dyna_ring_init(&empty);
  dyna_ring_init(&out);
  dyna_repl_t u = dyna_repl_uniform(1);
  assert_int_equal(dyna_ring_rebalance_repl(&empty, 16, m, DYNA_SITES_MAX + 1, &u, &out), DYNA_EINVAL);
  assert_int_equal(dyna_ring_rebalance_repl(&empty, 16, m, DYNA_SITES_MAX, &u, &out), 0);
  assert_int_equal(out.nsites, DYNA_SITES_MAX);
  dyna_ring_clear(&out);
  dyna_ring_clear(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_repl_parse),
      cmocka_unit_test(test_preflist_per_site),
      cmocka_unit_test(test_change_stays_in_its_site),
      cmocka_unit_test(test_no_sites_unchanged),
      cmocka_unit_test(test_encode_sites),
      cmocka_unit_test(test_substitute_in_site),
      cmocka_unit_test(test_single_and_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
