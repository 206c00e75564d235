/*
 * A shim around the winning QuantCup 1 engine ("voyager", engine.c), found at build time in the
 * registry copy of the lobster 0.7.0 crate and compiled in one unit with this file, as the
 * contest's own score.c does (#include "engine.c"). Not vendored: see benches/data/PROVENANCE.md.
 *
 * cascade_qc_prepare() turns the feed into the contest's t_order array once, untimed;
 * cascade_qc_feed() is score.c's feed() loop over it, the part that is timed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "engine.c"

typedef struct {
  uint64_t size;
  uint16_t price;
  uint8_t side;
  uint8_t trader;
} cascade_qc_msg;

static t_order *qc_feed;
static size_t qc_len;
static uint64_t qc_fills;
static uint64_t qc_qty;

/* The contest's execution callback: one report per side of each trade; count the buy side. */
void execution(t_execution exec) {
  if (exec.side == 0) {
    qc_fills += 1;
    qc_qty += exec.size;
  }
}

int cascade_qc_prepare(const cascade_qc_msg *msgs, size_t n) {
  free(qc_feed);
  qc_feed = calloc(n == 0 ? 1 : n, sizeof(t_order));
  if (qc_feed == NULL) return -1;
  for (size_t i = 0; i < n; i++) {
    t_order *o = &qc_feed[i];
    o->symbol[0] = 'S'; o->symbol[1] = 'Y'; o->symbol[2] = 'M'; o->symbol[3] = '\0';
    o->trader[0] = 'I'; o->trader[1] = 'D'; o->trader[2] = (char)('0' + msgs[i].trader % 10);
    o->trader[3] = '\0';
    o->side = msgs[i].side;
    o->price = msgs[i].price;
    o->size = (t_size)msgs[i].size;
  }
  qc_len = n;
  return 0;
}

void cascade_qc_reset(void) {
  init();
  qc_fills = 0;
  qc_qty = 0;
}

void cascade_qc_feed(void) {
  for (size_t i = 0; i < qc_len; i++) {
    if (qc_feed[i].price == 0) {
      cancel(qc_feed[i].size);
    } else {
      limit(qc_feed[i]);
    }
  }
}

void cascade_qc_result(uint64_t *fills, uint64_t *qty) {
  *fills = qc_fills;
  *qty = qc_qty;
}
