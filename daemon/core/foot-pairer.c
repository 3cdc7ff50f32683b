/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "foot-pairer.h"
#include "macro.h"

void foot_pairer_init(FootPairer *p) {
        *p = (FootPairer) {};
}

void foot_pairer_done(FootPairer *p) {
        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++)
                free(p->ring[s].items);
        foot_pairer_init(p);
}

void foot_pairer_reset(FootPairer *p) {
        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++)
                p->ring[s].head = p->ring[s].len = 0;
        p->have_newest = p->have_right_last = false;
}

static FootLoad *ring_at(FootRing *r, size_t i) {
        return &r->items[(r->head + i) % r->capacity];
}

static void ring_pop(FootRing *r) {
        r->head = (r->head + 1) % r->capacity;
        r->len--;
}

/* Doubles a full ring (up to FOOT_PAIRER_CAPACITY), its samples first in the new one. */
static int ring_grow(FootRing *r) {
        size_t capacity = r->capacity > 0 ? MIN(r->capacity * 2, (size_t) FOOT_PAIRER_CAPACITY) : FOOT_PAIRER_START;
        FootLoad *items;

        items = malloc(capacity * sizeof(FootLoad));
        if (!items)
                return -ENOMEM;
        for (size_t i = 0; i < r->len; i++)
                items[i] = *ring_at(r, i);
        free(r->items);
        r->items = items;
        r->capacity = capacity;
        r->head = 0;
        return 0;
}

int foot_pairer_push(FootPairer *p, FootSide side, const FootLoad *load) {
        FootRing *r;

        if (side < 0 || side >= _FOOT_SIDE_MAX)
                return -EINVAL;
        r = &p->ring[side];
        if (r->len > 0 && load->t_us < ring_at(r, r->len - 1)->t_us)
                return -EINVAL;
        if (r->len == r->capacity && r->capacity < FOOT_PAIRER_CAPACITY && ring_grow(r) < 0) {
                p->dropped++;
                return -ENOMEM;
        }
        if (r->len == r->capacity) {
                ring_pop(r);
                if (side == FOOT_LEFT)
                        p->dropped++;
        }
        *ring_at(r, r->len) = *load;
        r->len++;
        if (!p->have_newest || load->t_us > p->newest_us) {
                p->newest_us = load->t_us;
                p->have_newest = true;
        }
        return 0;
}

static uint64_t distance(uint64_t a, uint64_t b) {
        return a > b ? a - b : b - a;
}

bool foot_pairer_take(FootPairer *p, FootLoad *ret_left, FootLoad *ret_right) {
        FootRing *left = &p->ring[FOOT_LEFT], *right = &p->ring[FOOT_RIGHT];
        const FootLoad *l;
        uint64_t t;

        while (left->len > 0) {
                l = ring_at(left, 0);
                t = l->t_us;

                /* Drop right samples that a later one brackets more closely. */
                while (right->len >= 2 && ring_at(right, 1)->t_us <= t) {
                        p->right_last = *ring_at(right, 0);
                        p->have_right_last = true;
                        ring_pop(right);
                }

                if (right->len > 0 && ring_at(right, right->len - 1)->t_us >= t) {
                        /* The right stream has reached t: take the nearer of the bracketing pair. */
                        const FootLoad *a = ring_at(right, 0);
                        const FootLoad *b = right->len >= 2 ? ring_at(right, 1) : a;
                        *ret_right = distance(a->t_us, t) <= distance(b->t_us, t) ? *a : *b;
                        *ret_left = *l;
                        ring_pop(left);
                        return true;
                }

                if (p->newest_us - t < FOOT_PAIRER_MAX_LAG_USEC)
                        return false; /* wait for the right foot to catch up */

                /* The right foot is late or silent: use its last sample if it is recent enough. */
                if (right->len > 0) {
                        p->right_last = *ring_at(right, right->len - 1);
                        p->have_right_last = true;
                }
                if (p->have_right_last && distance(p->right_last.t_us, t) <= FOOT_PAIRER_MAX_AGE_USEC) {
                        *ret_left = *l;
                        *ret_right = p->right_last;
                        ring_pop(left);
                        return true;
                }
                ring_pop(left); /* nothing to pair it with */
        }
        return false;
}
