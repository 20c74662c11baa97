/*
 * mask-pii: masks payment card numbers and e-mail addresses in message bodies. As the Rust
 * plugins/mask-pii, byte for byte:
 *
 *   - A card number is a run of 13-19 digits, optionally grouped by single spaces or
 *     dashes, that passes the Luhn check; all its digits but the last `keep_last` become
 *     the mask character (`4111 1111 1111 1111` -> `**** **** **** 1111`).
 *   - An e-mail address keeps the first character of its local part and its domain
 *     (`jane.doe@example.com` -> `j*******@example.com`).
 *
 * Bodies are scanned as bytes, so bodies that are not UTF-8 are masked too and never
 * corrupted. A body with nothing to mask is passed on unchanged (nothing is copied).
 *
 * Configuration: `mask` (one printable ASCII character, default `*`), `keep_last` (0-8,
 * default 4), `cards` and `emails` (`true`/`false`, default `true`). Counters:
 * `cards_masked`, `emails_masked`.
 */
#include <string.h>

#include "sluice.h"

static uint8_t mask = '*';
static uint64_t keep_last = 4;
static bool cards = true, emails = true;

bool sluice_init(const sluice_config *cfg, sluice_config_error *err) {
    if (!sluice_config_only(cfg, SLUICE_KEYS("mask", "keep_last", "cards", "emails"), err)) {
        return false;
    }
    const sluice_config_pair *m = sluice_config_find(cfg, "mask");
    if (m) {
        if (m->value_len != 1 || m->value[0] < 0x21 || m->value[0] > 0x7E) {
            return sluice_config_fail(err, "mask", "`mask` must be one printable ASCII character");
        }
        mask = (uint8_t)m->value[0];
    }
    if (!sluice_config_uint(cfg, "keep_last", 4, &keep_last, err)) return false;
    if (keep_last > 8) return sluice_config_fail(err, "keep_last", "`keep_last` may be at most 8");
    return sluice_config_bool(cfg, "cards", true, &cards, err) &&
           sluice_config_bool(cfg, "emails", true, &emails, err);
}

static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static bool is_alpha(uint8_t c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static bool is_alnum(uint8_t c) { return is_digit(c) || is_alpha(c); }
static bool is_local(uint8_t c) {
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

/* The Luhn check over `n` digits. */
static bool luhn(const uint8_t *digits, size_t n) {
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = digits[n - 1 - i] - '0';
        if (i % 2 == 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
        sum += d;
    }
    return sum % 10 == 0;
}

/* The masked copy of the body, made on the first match (NULL until then). */
typedef struct masking {
    const sluice_message *msg;
    sluice_outputs *out;
    uint8_t *buf;
} masking;

static uint8_t *copy(masking *m) {
    if (!m->buf) {
        sluice_output *o = sluice_emit(m->out);
        m->buf = sluice_output_body_buffer(o, m->msg->body.len);
        memcpy(m->buf, m->msg->body.ptr, m->msg->body.len);
    }
    return m->buf;
}

static uint64_t mask_cards(masking *m, const uint8_t *s, size_t n) {
    uint64_t found = 0;
    size_t i = 0;
    while (i < n) {
        if (!is_digit(s[i]) || (i > 0 && is_alnum(s[i - 1]))) {
            i++;
            continue;
        }
        /* A run of digits with single separators between digits. */
        size_t start = i, end = i, count = 0;
        uint8_t digits[19];
        while (i < n) {
            if (is_digit(s[i])) {
                if (count < sizeof digits) digits[count] = s[i];
                count++;
                end = ++i;
            } else if ((s[i] == ' ' || s[i] == '-') && i + 1 < n && is_digit(s[i + 1]) && count) {
                i++;
            } else {
                break;
            }
        }
        bool bounded = end >= n || !is_alnum(s[end]);
        if (bounded && count >= 13 && count <= 19 && luhn(digits, count)) {
            uint8_t *b = copy(m);
            size_t hide = count - (keep_last < count ? keep_last : count), seen = 0;
            for (size_t k = start; k < end; k++) {
                if (is_digit(b[k]) && ++seen <= hide) b[k] = mask;
            }
            found++;
        }
        i = end > start + 1 ? end : start + 1;
    }
    return found;
}

static uint64_t mask_emails(masking *m, const uint8_t *s, size_t n) {
    uint64_t found = 0;
    for (size_t at = 0; at < n; at++) {
        if (s[at] != '@') continue;
        size_t start = at;
        while (start > 0 && is_local(s[start - 1])) start--;
        while (start < at && s[start] == '.') start++;
        size_t end = at + 1;
        while (end < n && (is_alnum(s[end]) || s[end] == '.' || s[end] == '-')) end++;
        size_t dl = end - (at + 1); /* the domain, without one trailing dot */
        const uint8_t *domain = s + at + 1;
        if (dl > 0 && domain[dl - 1] == '.') dl--;
        size_t tld = dl; /* the last label */
        while (tld > 0 && domain[tld - 1] != '.') tld--;
        bool has_dot = memchr(domain, '.', dl) != NULL;
        bool tld_ok = dl - tld >= 2;
        for (size_t k = tld; k < dl && tld_ok; k++) tld_ok = is_alpha(domain[k]);
        if (at > start && has_dot && tld_ok) {
            uint8_t *b = copy(m);
            memset(b + start + 1, mask, at - start - 1);
            found++;
        }
    }
    return found;
}

sluice_result sluice_transform(const sluice_message *msg, sluice_outputs *out, sluice_error *err) {
    masking m = {msg, out, NULL};
    uint64_t c = cards ? mask_cards(&m, msg->body.ptr, msg->body.len) : 0;
    uint64_t e = emails ? mask_emails(&m, msg->body.ptr, msg->body.len) : 0;
    if (!m.buf) return SLUICE_UNCHANGED;
    if (c) sluice_counter_add("cards_masked", c);
    if (e) sluice_counter_add("emails_masked", e);
    return SLUICE_REPLACED;
}
