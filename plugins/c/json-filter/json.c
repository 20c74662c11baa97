/*
 * json.c: see json.h. The parser follows serde_json's `Deserializer` (de.rs, read.rs)
 * step by step, so that it accepts exactly the same texts and reads numbers into exactly
 * the same values; the error words are serde_json's too, with our own positions.
 */
#include "json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"

/* serde_json's POW10 (1e0 ..= 1e308), for its non-roundtrip float algorithm. */
static const double POW10[309] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29, 1e30, 1e31, 1e32, 
    1e33, 1e34, 1e35, 1e36, 1e37, 1e38, 1e39, 1e40, 1e41, 1e42, 1e43, 1e44, 1e45, 1e46, 1e47, 1e48, 
    1e49, 1e50, 1e51, 1e52, 1e53, 1e54, 1e55, 1e56, 1e57, 1e58, 1e59, 1e60, 1e61, 1e62, 1e63, 1e64, 
    1e65, 1e66, 1e67, 1e68, 1e69, 1e70, 1e71, 1e72, 1e73, 1e74, 1e75, 1e76, 1e77, 1e78, 1e79, 1e80, 
    1e81, 1e82, 1e83, 1e84, 1e85, 1e86, 1e87, 1e88, 1e89, 1e90, 1e91, 1e92, 1e93, 1e94, 1e95, 1e96, 
    1e97, 1e98, 1e99, 1e100, 1e101, 1e102, 1e103, 1e104, 1e105, 1e106, 1e107, 1e108, 1e109, 1e110, 
    1e111, 1e112, 1e113, 1e114, 1e115, 1e116, 1e117, 1e118, 1e119, 1e120, 1e121, 1e122, 1e123, 
    1e124, 1e125, 1e126, 1e127, 1e128, 1e129, 1e130, 1e131, 1e132, 1e133, 1e134, 1e135, 1e136, 
    1e137, 1e138, 1e139, 1e140, 1e141, 1e142, 1e143, 1e144, 1e145, 1e146, 1e147, 1e148, 1e149, 
    1e150, 1e151, 1e152, 1e153, 1e154, 1e155, 1e156, 1e157, 1e158, 1e159, 1e160, 1e161, 1e162, 
    1e163, 1e164, 1e165, 1e166, 1e167, 1e168, 1e169, 1e170, 1e171, 1e172, 1e173, 1e174, 1e175, 
    1e176, 1e177, 1e178, 1e179, 1e180, 1e181, 1e182, 1e183, 1e184, 1e185, 1e186, 1e187, 1e188, 
    1e189, 1e190, 1e191, 1e192, 1e193, 1e194, 1e195, 1e196, 1e197, 1e198, 1e199, 1e200, 1e201, 
    1e202, 1e203, 1e204, 1e205, 1e206, 1e207, 1e208, 1e209, 1e210, 1e211, 1e212, 1e213, 1e214, 
    1e215, 1e216, 1e217, 1e218, 1e219, 1e220, 1e221, 1e222, 1e223, 1e224, 1e225, 1e226, 1e227, 
    1e228, 1e229, 1e230, 1e231, 1e232, 1e233, 1e234, 1e235, 1e236, 1e237, 1e238, 1e239, 1e240, 
    1e241, 1e242, 1e243, 1e244, 1e245, 1e246, 1e247, 1e248, 1e249, 1e250, 1e251, 1e252, 1e253, 
    1e254, 1e255, 1e256, 1e257, 1e258, 1e259, 1e260, 1e261, 1e262, 1e263, 1e264, 1e265, 1e266, 
    1e267, 1e268, 1e269, 1e270, 1e271, 1e272, 1e273, 1e274, 1e275, 1e276, 1e277, 1e278, 1e279, 
    1e280, 1e281, 1e282, 1e283, 1e284, 1e285, 1e286, 1e287, 1e288, 1e289, 1e290, 1e291, 1e292, 
    1e293, 1e294, 1e295, 1e296, 1e297, 1e298, 1e299, 1e300, 1e301, 1e302, 1e303, 1e304, 1e305, 
    1e306, 1e307, 1e308
};

#define MAX_DEPTH 128 /* serde_json's recursion limit: 127 nested levels parse */
static const char RAW_TOKEN[] = "$serde_json::private::RawValue";

typedef struct parser {
    const uint8_t *s;
    size_t n, i;
    json_doc *d;
    int depth;
    const char *err; /* the first error */
    size_t at;       /* where it is */
} parser;

static int32_t fail(parser *p, const char *what, size_t at) {
    if (!p->err) {
        p->err = what;
        p->at = at;
    }
    return -1;
}

static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static bool more(const parser *p) { return p->i < p->n; }

static void skip_ws(parser *p) {
    while (p->i < p->n) {
        uint8_t c = p->s[p->i];
        if (c != ' ' && c != '\n' && c != '\t' && c != '\r') break;
        p->i++;
    }
}

/* ---- the arena ---------------------------------------------------------------------- */

static int32_t new_node(json_doc *d, uint8_t kind) {
    if (d->n_nodes == d->cap_nodes) {
        size_t cap = d->cap_nodes ? d->cap_nodes * 2 : 32;
        json_node *p = realloc(d->nodes, cap * sizeof *p);
        if (!p) abort();
        d->nodes = p;
        d->cap_nodes = cap;
    }
    json_node *n = &d->nodes[d->n_nodes];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->first = n->last = n->next = -1;
    return (int32_t)d->n_nodes++;
}

static void text_put(json_doc *d, const uint8_t *s, size_t n) {
    if (d->cap_text - d->n_text < n) {
        size_t cap = d->cap_text ? d->cap_text : 64;
        while (cap - d->n_text < n) cap *= 2;
        uint8_t *p = realloc(d->text, cap);
        if (!p) abort();
        d->text = p;
        d->cap_text = cap;
    }
    if (n) memcpy(d->text + d->n_text, s, n);
    d->n_text += n;
}

static void append_child(json_doc *d, int32_t parent, int32_t child) {
    json_node *p = &d->nodes[parent];
    if (p->last < 0) p->first = child;
    else d->nodes[p->last].next = child;
    p->last = child;
    p->len++;
}

/* ---- numbers (serde_json de.rs, without `float_roundtrip`) --------------------------- */

typedef struct number {
    uint8_t kind;
    union {
        uint64_t u;
        int64_t i;
        double f;
    } v;
} number;

/* `a * 10 + b` would exceed `max` (serde_json's `overflow!`). */
#define OVERFLOW(a, b, max) ((a) >= (max) / 10 && ((a) > (max) / 10 || (b) > (max) % 10))

static int f64_from_parts(parser *p, bool positive, uint64_t significand, int32_t exponent,
                          double *out) {
    double f = (double)significand;
    for (;;) {
        int64_t a = exponent < 0 ? -(int64_t)exponent : exponent;
        if (a <= 308) {
            if (exponent >= 0) {
                f *= POW10[a];
                if (isinf(f)) return fail(p, "number out of range", p->i);
            } else {
                f /= POW10[a];
            }
            break;
        }
        if (f == 0.0) break;
        if (exponent >= 0) return fail(p, "number out of range", p->i);
        f /= 1e308;
        exponent += 308;
    }
    *out = positive ? f : -f;
    return 0;
}

static int exponent_overflow(parser *p, bool positive, bool zero_significand, bool positive_exp,
                             double *out) {
    if (!zero_significand && positive_exp) return fail(p, "number out of range", p->i);
    while (more(p) && is_digit(p->s[p->i])) p->i++;
    *out = positive ? 0.0 : -0.0;
    return 0;
}

static int parse_exponent(parser *p, bool positive, uint64_t significand, int32_t starting_exp,
                          double *out) {
    p->i++; /* e or E */
    bool positive_exp = true;
    if (more(p) && p->s[p->i] == '+') {
        p->i++;
    } else if (more(p) && p->s[p->i] == '-') {
        p->i++;
        positive_exp = false;
    }
    if (!more(p)) return fail(p, "EOF while parsing a value", p->i);
    uint8_t c = p->s[p->i++];
    if (!is_digit(c)) return fail(p, "invalid number", p->i - 1);
    int32_t exp = c - '0';
    while (more(p) && is_digit(p->s[p->i])) {
        int32_t digit = p->s[p->i++] - '0';
        if (OVERFLOW(exp, digit, INT32_MAX)) {
            return exponent_overflow(p, positive, significand == 0, positive_exp, out);
        }
        exp = exp * 10 + digit;
    }
    int64_t final = positive_exp ? (int64_t)starting_exp + exp : (int64_t)starting_exp - exp;
    if (final > INT32_MAX) final = INT32_MAX; /* saturating, as serde_json */
    if (final < INT32_MIN) final = INT32_MIN;
    return f64_from_parts(p, positive, significand, (int32_t)final, out);
}

static int decimal_overflow(parser *p, bool positive, uint64_t significand, int32_t exponent,
                            double *out) {
    /* The next multiply/add would overflow: ignore all further digits. */
    while (more(p) && is_digit(p->s[p->i])) p->i++;
    if (more(p) && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        return parse_exponent(p, positive, significand, exponent, out);
    }
    return f64_from_parts(p, positive, significand, exponent, out);
}

static int parse_decimal(parser *p, bool positive, uint64_t significand, int32_t exp_before,
                         double *out) {
    p->i++; /* . */
    int32_t exp_after = 0;
    while (more(p) && is_digit(p->s[p->i])) {
        uint64_t digit = p->s[p->i] - '0';
        if (OVERFLOW(significand, digit, UINT64_MAX)) {
            return decimal_overflow(p, positive, significand, exp_before + exp_after, out);
        }
        p->i++;
        significand = significand * 10 + digit;
        exp_after--;
    }
    if (exp_after == 0) { /* at least one digit after the point */
        return more(p) ? fail(p, "invalid number", p->i) : fail(p, "EOF while parsing a value", p->i);
    }
    int32_t exponent = exp_before + exp_after;
    if (more(p) && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        return parse_exponent(p, positive, significand, exponent, out);
    }
    return f64_from_parts(p, positive, significand, exponent, out);
}

static int parse_long_integer(parser *p, bool positive, uint64_t significand, double *out) {
    int32_t exponent = 0;
    for (;;) {
        if (more(p) && is_digit(p->s[p->i])) {
            p->i++;
            exponent++;
        } else if (more(p) && p->s[p->i] == '.') {
            return parse_decimal(p, positive, significand, exponent, out);
        } else if (more(p) && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
            return parse_exponent(p, positive, significand, exponent, out);
        } else {
            return f64_from_parts(p, positive, significand, exponent, out);
        }
    }
}

static int parse_number_tail(parser *p, bool positive, uint64_t significand, number *out) {
    if (more(p) && p->s[p->i] == '.') {
        out->kind = JSON_FLOAT;
        return parse_decimal(p, positive, significand, 0, &out->v.f);
    }
    if (more(p) && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        out->kind = JSON_FLOAT;
        return parse_exponent(p, positive, significand, 0, &out->v.f);
    }
    if (positive) {
        out->kind = JSON_UINT;
        out->v.u = significand;
        return 0;
    }
    int64_t neg = (int64_t)(0 - significand); /* (significand as i64).wrapping_neg() */
    if (neg >= 0) { /* underflow, or -0 */
        out->kind = JSON_FLOAT;
        out->v.f = -(double)significand;
    } else {
        out->kind = JSON_INT;
        out->v.i = neg;
    }
    return 0;
}

static int parse_integer(parser *p, bool positive, number *out) {
    if (!more(p)) return fail(p, "EOF while parsing a value", p->i);
    uint8_t c = p->s[p->i++];
    if (c == '0') {
        if (more(p) && is_digit(p->s[p->i])) return fail(p, "invalid number", p->i);
        return parse_number_tail(p, positive, 0, out);
    }
    if (c < '1' || c > '9') return fail(p, "invalid number", p->i - 1);
    uint64_t significand = c - '0';
    while (more(p) && is_digit(p->s[p->i])) {
        uint64_t digit = p->s[p->i] - '0';
        if (OVERFLOW(significand, digit, UINT64_MAX)) {
            out->kind = JSON_FLOAT;
            return parse_long_integer(p, positive, significand, &out->v.f);
        }
        p->i++;
        significand = significand * 10 + digit;
    }
    return parse_number_tail(p, positive, significand, out);
}

/* ---- strings (serde_json read.rs, validating) --------------------------------------- */

static int hex4(parser *p, uint16_t *out) {
    if (p->n - p->i < 4) {
        p->i = p->n;
        return fail(p, "EOF while parsing a string", p->n);
    }
    uint16_t v = 0;
    for (int k = 0; k < 4; k++) {
        uint8_t c = p->s[p->i + k];
        int h = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (h < 0) return fail(p, "invalid escape", p->i + 4);
        v = (uint16_t)(v << 4 | h);
    }
    p->i += 4;
    *out = v;
    return 0;
}

static void put_utf8(json_doc *d, uint32_t cp) {
    uint8_t b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (uint8_t)(0xC0 | cp >> 6);
        b[1] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (uint8_t)(0xE0 | cp >> 12);
        b[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        b[2] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (uint8_t)(0xF0 | cp >> 18);
        b[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
        b[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        b[3] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 4;
    }
    text_put(d, b, n);
}

static int parse_escape(parser *p) {
    if (!more(p)) return fail(p, "EOF while parsing a string", p->i);
    uint8_t c = p->s[p->i++], out;
    switch (c) {
    case '"': out = '"'; break;
    case '\\': out = '\\'; break;
    case '/': out = '/'; break;
    case 'b': out = '\b'; break;
    case 'f': out = '\f'; break;
    case 'n': out = '\n'; break;
    case 'r': out = '\r'; break;
    case 't': out = '\t'; break;
    case 'u': {
        uint16_t n1, n2;
        if (hex4(p, &n1)) return -1;
        if (n1 >= 0xDC00 && n1 <= 0xDFFF) {
            return fail(p, "lone leading surrogate in hex escape", p->i);
        }
        if (n1 < 0xD800 || n1 > 0xDBFF) {
            put_utf8(p->d, n1);
            return 0;
        }
        if (!more(p)) return fail(p, "EOF while parsing a string", p->i);
        if (p->s[p->i++] != '\\') return fail(p, "unexpected end of hex escape", p->i);
        if (!more(p)) return fail(p, "EOF while parsing a string", p->i);
        if (p->s[p->i++] != 'u') return fail(p, "unexpected end of hex escape", p->i);
        if (hex4(p, &n2)) return -1;
        if (n2 < 0xDC00 || n2 > 0xDFFF) {
            return fail(p, "lone leading surrogate in hex escape", p->i);
        }
        put_utf8(p->d, (((uint32_t)(n1 - 0xD800) << 10) | (uint32_t)(n2 - 0xDC00)) + 0x10000);
        return 0;
    }
    default:
        return fail(p, "invalid escape", p->i);
    }
    text_put(p->d, &out, 1);
    return 0;
}

/* After the opening quote: decodes the string into the text arena. */
static int parse_string(parser *p, uint32_t *off, uint32_t *len) {
    size_t start = p->d->n_text, run = p->i;
    for (;;) {
        if (!more(p)) return fail(p, "EOF while parsing a string", p->i);
        uint8_t c = p->s[p->i];
        if (c == '"') {
            text_put(p->d, p->s + run, p->i - run);
            p->i++;
            break;
        }
        if (c == '\\') {
            text_put(p->d, p->s + run, p->i - run);
            p->i++;
            if (parse_escape(p)) return -1;
            run = p->i;
            continue;
        }
        if (c < 0x20) {
            return fail(p, "control character (\\u0000-\\u001F) found while parsing a string", p->i);
        }
        p->i++;
    }
    size_t n = p->d->n_text - start, valid = sluice_utf8_prefix(p->d->text + start, n);
    if (valid != n) { /* serde_json points back from the closing quote */
        return fail(p, "invalid unicode code point", p->i - (n - valid) - 1);
    }
    *off = (uint32_t)start;
    *len = (uint32_t)(p->d->n_text - start);
    return 0;
}

/* ---- values ------------------------------------------------------------------------- */

static int32_t parse_value(parser *p);
static int32_t parse_document(parser *p);

static int32_t parse_ident(parser *p, const char *rest, int32_t node) {
    for (; *rest; rest++) {
        if (!more(p)) return fail(p, "EOF while parsing a value", p->i);
        if (p->s[p->i++] != (uint8_t)*rest) return fail(p, "expected ident", p->i - 1);
    }
    return node;
}

static int32_t parse_array(parser *p) {
    int32_t arr = new_node(p->d, JSON_ARRAY);
    for (bool first = true;; first = false) {
        skip_ws(p);
        if (!more(p)) return fail(p, "EOF while parsing a list", p->i);
        if (p->s[p->i] == ']') {
            p->i++;
            return arr;
        }
        if (!first) {
            if (p->s[p->i] != ',') return fail(p, "expected `,` or `]`", p->i);
            p->i++;
            skip_ws(p);
            if (!more(p)) return fail(p, "EOF while parsing a value", p->i);
            if (p->s[p->i] == ']') return fail(p, "trailing comma", p->i);
        }
        int32_t v = parse_value(p);
        if (v < 0) return -1;
        append_child(p->d, arr, v);
    }
}

static int colon(parser *p) {
    skip_ws(p);
    if (!more(p)) return fail(p, "EOF while parsing an object", p->i);
    if (p->s[p->i] != ':') return fail(p, "expected `:`", p->i);
    p->i++;
    return 0;
}

/* `{"$serde_json::private::RawValue": "<json text>"}` is the value of the JSON text. */
static int32_t parse_raw_value(parser *p) {
    if (colon(p)) return -1;
    skip_ws(p);
    if (!more(p)) return fail(p, "EOF while parsing a value", p->i);
    if (p->s[p->i] != '"') return fail(p, "invalid type: expected raw value", p->i);
    p->i++;
    uint32_t off, len;
    if (parse_string(p, &off, &len)) return -1;
    uint8_t *text = malloc(len ? len : 1);
    if (!text) abort();
    memcpy(text, p->d->text + off, len);
    parser inner = {.s = text, .n = len, .d = p->d};
    int32_t v = parse_document(&inner);
    free(text);
    if (v < 0) return fail(p, inner.err, p->i);
    skip_ws(p);
    if (!more(p)) return fail(p, "EOF while parsing an object", p->i);
    if (p->s[p->i] == ',') return fail(p, "trailing comma", p->i);
    if (p->s[p->i] != '}') return fail(p, "trailing characters", p->i);
    p->i++;
    return v;
}

static int32_t parse_object(parser *p) {
    int32_t obj = new_node(p->d, JSON_OBJECT);
    for (bool first = true;; first = false) {
        skip_ws(p);
        if (!more(p)) return fail(p, "EOF while parsing an object", p->i);
        if (p->s[p->i] == '}') {
            p->i++;
            return obj;
        }
        if (!first) {
            if (p->s[p->i] != ',') return fail(p, "expected `,` or `}`", p->i);
            p->i++;
            skip_ws(p);
            if (!more(p)) return fail(p, "EOF while parsing a value", p->i);
            if (p->s[p->i] == '}') return fail(p, "trailing comma", p->i);
        }
        if (p->s[p->i] != '"') return fail(p, "key must be a string", p->i);
        p->i++;
        uint32_t koff, klen;
        if (parse_string(p, &koff, &klen)) return -1;
        if (first && klen == sizeof RAW_TOKEN - 1 &&
            memcmp(p->d->text + koff, RAW_TOKEN, klen) == 0) {
            return parse_raw_value(p);
        }
        if (colon(p)) return -1;
        int32_t v = parse_value(p);
        if (v < 0) return -1;
        p->d->nodes[v].key_off = koff;
        p->d->nodes[v].key_len = klen;
        append_child(p->d, obj, v);
    }
}

static int32_t parse_value(parser *p) {
    skip_ws(p);
    if (!more(p)) return fail(p, "EOF while parsing a value", p->i);
    uint8_t c = p->s[p->i];
    switch (c) {
    case 'n':
        p->i++;
        return parse_ident(p, "ull", new_node(p->d, JSON_NULL));
    case 't':
    case 'f': {
        p->i++;
        int32_t v = new_node(p->d, JSON_BOOL);
        p->d->nodes[v].b = c == 't';
        return parse_ident(p, c == 't' ? "rue" : "alse", v);
    }
    case '"': {
        p->i++;
        uint32_t off, len;
        if (parse_string(p, &off, &len)) return -1;
        int32_t v = new_node(p->d, JSON_STRING);
        p->d->nodes[v].off = off;
        p->d->nodes[v].len = len;
        return v;
    }
    case '[':
    case '{': {
        if (++p->depth >= MAX_DEPTH) return fail(p, "recursion limit exceeded", p->i);
        p->i++;
        int32_t v = c == '[' ? parse_array(p) : parse_object(p);
        p->depth--;
        return v;
    }
    default:
        if (c == '-' || is_digit(c)) {
            bool positive = c != '-';
            if (!positive) p->i++;
            number num;
            if (parse_integer(p, positive, &num)) return -1;
            int32_t v = new_node(p->d, num.kind);
            memcpy(&p->d->nodes[v].num, &num.v, sizeof num.v);
            return v;
        }
        return fail(p, "expected value", p->i);
    }
}

/* A whole text: one value, whitespace around it, nothing else. */
static int32_t parse_document(parser *p) {
    int32_t v = parse_value(p);
    if (v < 0) return -1;
    skip_ws(p);
    if (more(p)) return fail(p, "trailing characters", p->i);
    return v;
}

int32_t json_parse(json_doc *d, const uint8_t *s, size_t len) {
    d->n_nodes = 0;
    d->n_text = 0;
    d->error[0] = 0;
    parser p = {.s = s, .n = len, .d = d};
    int32_t v = parse_document(&p);
    if (v >= 0) return v;
    size_t line = 1, col = 1, at = p.at < len ? p.at : len ? len - 1 : 0; /* EOF: the last byte */
    for (size_t k = 0; k < at; k++) {
        if (s[k] == '\n') line++, col = 1;
        else col++;
    }
    sluice_snprintf(d->error, sizeof d->error, "%s at line %zu column %zu", p.err, line, col);
    return -1;
}

int32_t json_string(json_doc *d, const uint8_t *s, size_t len) {
    int32_t v = new_node(d, JSON_STRING);
    d->nodes[v].off = (uint32_t)d->n_text;
    d->nodes[v].len = (uint32_t)len;
    text_put(d, s, len);
    return v;
}

void json_free(json_doc *d) {
    free(d->nodes);
    free(d->text);
    memset(d, 0, sizeof *d);
}

/* ---- pointers and equality ---------------------------------------------------------- */

/* `s.replace(from, to)` for two-byte `from` and one-byte `to`, in place; the new length. */
static size_t replace2(uint8_t *s, size_t n, const char from[2], uint8_t to) {
    size_t w = 0;
    for (size_t r = 0; r < n;) {
        if (r + 1 < n && s[r] == (uint8_t)from[0] && s[r + 1] == (uint8_t)from[1]) {
            s[w++] = to;
            r += 2;
        } else {
            s[w++] = s[r++];
        }
    }
    return w;
}

bool json_pointer_parse(json_pointer *out, const char *p, size_t len) {
    memset(out, 0, sizeof *out);
    if (len == 0) return true;
    if (p[0] != '/') return false;
    size_t n = 0;
    for (size_t k = 0; k < len; k++) n += p[k] == '/';
    out->tok = calloc(n, sizeof *out->tok);
    out->len = calloc(n, sizeof *out->len);
    if (!out->tok || !out->len) abort();
    size_t start = 1;
    for (size_t k = 1; k <= len; k++) {
        if (k < len && p[k] != '/') continue;
        size_t tl = k - start;
        uint8_t *t = malloc(tl ? tl : 1);
        if (!t) abort();
        memcpy(t, p + start, tl);
        tl = replace2(t, tl, "~1", '/');
        tl = replace2(t, tl, "~0", '~');
        out->tok[out->n] = t;
        out->len[out->n] = tl;
        out->n++;
        start = k + 1;
    }
    return true;
}

static bool key_is(const json_doc *d, const json_node *m, const uint8_t *k, size_t kl) {
    return m->key_len == kl && (kl == 0 || memcmp(d->text + m->key_off, k, kl) == 0);
}

/* The member of `obj` named `k` that serde_json keeps: the last one. */
static int32_t member(const json_doc *d, const json_node *obj, const uint8_t *k, size_t kl) {
    int32_t found = -1;
    for (int32_t c = obj->first; c >= 0; c = d->nodes[c].next) {
        if (key_is(d, &d->nodes[c], k, kl)) found = c;
    }
    return found;
}

/* serde_json's `parse_index`: digits only, no `+`, no leading zero. */
static bool parse_index(const uint8_t *t, size_t n, uint64_t *out) {
    if (n == 0 || (t[0] == '0' && n != 1)) return false;
    uint64_t v = 0;
    for (size_t k = 0; k < n; k++) {
        if (!is_digit(t[k])) return false;
        if (v > (UINT64_MAX - 9) / 10) return false; /* beyond any array */
        v = v * 10 + (t[k] - '0');
    }
    *out = v;
    return true;
}

int32_t json_lookup(const json_doc *d, int32_t root, const json_pointer *ptr) {
    int32_t cur = root;
    for (size_t k = 0; k < ptr->n && cur >= 0; k++) {
        const json_node *node = &d->nodes[cur];
        if (node->kind == JSON_OBJECT) {
            cur = member(d, node, ptr->tok[k], ptr->len[k]);
        } else if (node->kind == JSON_ARRAY) {
            uint64_t idx;
            if (!parse_index(ptr->tok[k], ptr->len[k], &idx) || idx >= node->len) return -1;
            cur = node->first;
            while (idx--) cur = d->nodes[cur].next;
        } else {
            return -1;
        }
    }
    return cur;
}

/* Whether member `m` of `obj` is the one serde_json keeps (no later one has its key). */
static bool kept(const json_doc *d, int32_t m) {
    const json_node *n = &d->nodes[m];
    for (int32_t c = n->next; c >= 0; c = d->nodes[c].next) {
        if (key_is(d, &d->nodes[c], d->text + n->key_off, n->key_len)) return false;
    }
    return true;
}

static size_t distinct_members(const json_doc *d, const json_node *obj) {
    size_t n = 0;
    for (int32_t c = obj->first; c >= 0; c = d->nodes[c].next) n += kept(d, c);
    return n;
}

bool json_equal(const json_doc *a, int32_t x, const json_doc *b, int32_t y) {
    const json_node *p = &a->nodes[x], *q = &b->nodes[y];
    if (p->kind != q->kind) return false;
    switch (p->kind) {
    case JSON_NULL: return true;
    case JSON_BOOL: return p->b == q->b;
    case JSON_UINT: return p->num.u == q->num.u;
    case JSON_INT: return p->num.i == q->num.i;
    case JSON_FLOAT: return p->num.f == q->num.f;
    case JSON_STRING:
        return p->len == q->len && (p->len == 0 || memcmp(a->text + p->off, b->text + q->off, p->len) == 0);
    case JSON_ARRAY: {
        if (p->len != q->len) return false;
        for (int32_t i = p->first, j = q->first; i >= 0; i = a->nodes[i].next, j = b->nodes[j].next) {
            if (!json_equal(a, i, b, j)) return false;
        }
        return true;
    }
    case JSON_OBJECT: {
        if (distinct_members(a, p) != distinct_members(b, q)) return false;
        for (int32_t i = p->first; i >= 0; i = a->nodes[i].next) {
            if (!kept(a, i)) continue;
            const json_node *m = &a->nodes[i];
            int32_t j = member(b, q, a->text + m->key_off, m->key_len);
            if (j < 0 || !json_equal(a, i, b, j)) return false;
        }
        return true;
    }
    }
    return false;
}
