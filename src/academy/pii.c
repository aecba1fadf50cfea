/*
 * pii.c - finds what looks like personal data in a prompt, so the portal
 * can warn (or block) before it goes to the model: IBANs (mod-97 check),
 * German tax ids (11 digits with their check digit), phone numbers
 * (+49 / 0xxx), e-mail addresses, dates of birth (a date after "geb.",
 * "Geburtsdatum" & co., or any dd.mm.yyyy with a plausible birth year) and
 * street addresses ("Lindenstraße 5", "Hauptstr. 12a", "Am Markt 3").
 *
 * Heuristics, tuned to be quiet on what administrations write all the
 * time: paragraphs ("§ 35 VwVfG"), file numbers ("Az. 12-345/2024"),
 * amounts ("1.234,56 €").
 */
#include <string.h>
#include <time.h>

#include "academy/academy.h"

#define MAX_FOUND 512

typedef struct scan {
    const char *t;
    size_t n;
    pii_finding f[MAX_FOUND];
    size_t nf;
} scan;

static void add(scan *s, pii_kind k, size_t start, size_t end)
{
    if (s->nf < MAX_FOUND)
        s->f[s->nf++] = (pii_finding){k, start, end};
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_alnum(char c) { return is_digit(c) || is_alpha(c); }
static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }
static char upper(char c) { return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c; }

const char *pii_kind_name(pii_kind k)
{
    switch (k) {
    case PII_IBAN: return "iban";
    case PII_TAX_ID: return "tax_id";
    case PII_PHONE: return "phone";
    case PII_EMAIL: return "email";
    case PII_BIRTH_DATE: return "birth_date";
    case PII_ADDRESS: return "address";
    }
    return "unknown";
}

/* ------------------------------------------------------------ IBAN */

int pii_iban_valid(const char *s, size_t len)
{
    char c[40];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ')
            continue;
        if (!is_alnum(s[i]) || n >= 34)
            return 0;
        c[n++] = upper(s[i]);
    }
    if (n < 15 || !is_alpha(c[0]) || !is_alpha(c[1]) || !is_digit(c[2]) || !is_digit(c[3]))
        return 0;
    if (c[0] == 'D' && c[1] == 'E' && n != 22)
        return 0;
    /* move the first four characters to the end, letters -> 10..35, mod 97 */
    unsigned rem = 0;
    for (size_t k = 0; k < n; k++) {
        char ch = c[(k + 4) % n];
        if (is_digit(ch)) {
            rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
        } else {
            unsigned v = (unsigned)(ch - 'A') + 10;
            rem = (rem * 100 + v) % 97;
        }
    }
    return rem == 1;
}

static void find_iban(scan *s)
{
    for (size_t i = 0; i + 15 <= s->n; i++) {
        const char *t = s->t;
        if (!is_alpha(t[i]) || !is_alpha(t[i + 1]) || !is_digit(t[i + 2]) || !is_digit(t[i + 3]) ||
            (i > 0 && is_alnum(t[i - 1])))
            continue;
        /* collect alphanumerics with single spaces, remember possible ends */
        size_t ends[40], ne = 0, chars = 0, j = i;
        while (j < s->n && chars < 34) {
            if (is_alnum(t[j])) {
                chars++;
                j++;
                if (j >= s->n || !is_alnum(t[j]))
                    ends[ne++] = j;
            } else if (t[j] == ' ' && j + 1 < s->n && is_alnum(t[j + 1]) && j > i) {
                j++;
            } else {
                break;
            }
        }
        while (ne > 0) {
            size_t e = ends[--ne];
            if (pii_iban_valid(t + i, e - i)) {
                add(s, PII_IBAN, i, e);
                i = e;
                break;
            }
        }
    }
}

/* ------------------------------------------------------------ tax id */

int pii_taxid_valid(const char *d)
{
    int count[10] = {0};
    for (int i = 0; i < 11; i++)
        if (!is_digit(d[i]))
            return 0;
    if (d[0] == '0')
        return 0;
    for (int i = 0; i < 10; i++)
        count[d[i] - '0']++;
    int multi = 0;
    for (int k = 0; k < 10; k++) {
        if (count[k] > 3)
            return 0;
        multi += count[k] > 1;
    }
    if (multi != 1)
        return 0;
    int product = 10;
    for (int i = 0; i < 10; i++) {
        int sum = (d[i] - '0' + product) % 10;
        if (sum == 0)
            sum = 10;
        product = (sum * 2) % 11;
    }
    int check = 11 - product;
    if (check == 10)
        check = 0;
    return check == d[10] - '0';
}

static void find_taxid(scan *s)
{
    const char *t = s->t;
    for (size_t i = 0; i < s->n; i++) {
        if (!is_digit(t[i]) || (i > 0 && (is_alnum(t[i - 1]) || t[i - 1] == '.' || t[i - 1] == ',' ||
                                          t[i - 1] == '-' || t[i - 1] == '/' || t[i - 1] == '+')))
            continue;
        char d[12];
        size_t nd = 0, j = i;
        while (j < s->n && nd < 12) {
            if (is_digit(t[j]))
                d[nd++] = t[j++];
            else if (t[j] == ' ' && j + 1 < s->n && is_digit(t[j + 1]))
                j++;
            else
                break;
        }
        if (nd == 11 && (j >= s->n || (!is_alnum(t[j]) && t[j] != ',' && !(t[j] == '.' && j + 1 < s->n &&
                                                                          is_digit(t[j + 1]))))) {
            d[11] = '\0';
            if (pii_taxid_valid(d)) {
                add(s, PII_TAX_ID, i, j);
                i = j;
                continue;
            }
        }
        while (i + 1 < s->n && is_digit(t[i + 1]))
            i++;
    }
}

/* ------------------------------------------------------------ phone */

static void find_phone(scan *s)
{
    const char *t = s->t;
    for (size_t i = 0; i + 1 < s->n; i++) {
        size_t st = i, j = i;
        int intl = 0;
        if (i > 0 && (is_alnum(t[i - 1]) || t[i - 1] == '.' || t[i - 1] == ',' || t[i - 1] == '/' ||
                      t[i - 1] == '-' || t[i - 1] == '+'))
            continue;
        if (t[j] == '(')
            j++;
        if (j < s->n && t[j] == '+') {
            if (j + 2 >= s->n || !is_digit(t[j + 1]) || !is_digit(t[j + 2]))
                continue;
            intl = 1;
            j++;
        } else if (j + 2 < s->n && t[j] == '0' && t[j + 1] == '0' && t[j + 2] >= '1' && t[j + 2] <= '9') {
            intl = 1; /* 0049 ... */
        } else if (!(j + 1 < s->n && t[j] == '0' && t[j + 1] >= '1' && t[j + 1] <= '9')) {
            continue;
        }
        size_t digits = 0, last = j;
        while (j < s->n) {
            char c = t[j];
            if (is_digit(c)) {
                digits++;
                j++;
                last = j;
            } else if ((c == ' ' || c == '-' || c == '/' || c == '(' || c == ')') && j + 1 < s->n &&
                       (is_digit(t[j + 1]) || t[j + 1] == ' ' || t[j + 1] == '(')) {
                j++;
            } else {
                break;
            }
            if (digits > 16)
                break;
        }
        if (last < s->n && t[last] == ')')
            last++;
        if (digits < (size_t)(intl ? 8 : 7) || digits > 15)
            continue;
        if (last < s->n && (is_alpha(t[last]) || ((t[last] == '.' || t[last] == ',') && last + 1 < s->n &&
                                                  is_digit(t[last + 1]))))
            continue;
        add(s, PII_PHONE, st, last);
        i = last;
    }
}

/* ------------------------------------------------------------ e-mail */

static int email_local(char c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static void find_email(scan *s)
{
    const char *t = s->t;
    for (size_t at = 1; at + 3 < s->n; at++) {
        if (t[at] != '@' || !email_local(t[at - 1]))
            continue;
        size_t a = at;
        while (a > 0 && email_local(t[a - 1]))
            a--;
        while (a < at && t[a] == '.')
            a++;
        size_t e = at + 1, dots = 0, last_dot = 0;
        while (e < s->n && (is_alnum(t[e]) || t[e] == '-' || (t[e] == '.' && e + 1 < s->n && is_alnum(t[e + 1])))) {
            if (t[e] == '.') {
                dots++;
                last_dot = e;
            }
            e++;
        }
        if (a == at || !dots)
            continue;
        size_t tld = e - last_dot - 1;
        int alpha_tld = tld >= 2;
        for (size_t k = last_dot + 1; k < e; k++)
            alpha_tld &= is_alpha(t[k]);
        if (!alpha_tld)
            continue;
        add(s, PII_EMAIL, a, e);
        at = e;
    }
}

/* ------------------------------------------------------------ dates of birth */

static int current_year(void)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    return tm.tm_year + 1900;
}

/* dd.mm.yyyy / d.m.yy at i; end and year out; 0 if none. */
static int parse_date(const scan *s, size_t i, size_t *end, int *year)
{
    const char *t = s->t;
    size_t j = i;
    int part[3] = {0, 0, 0}, len[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++) {
        while (j < s->n && is_digit(t[j]) && len[k] < 5) {
            part[k] = part[k] * 10 + (t[j] - '0');
            len[k]++;
            j++;
        }
        if (k < 2) {
            if (j >= s->n || t[j] != '.')
                return 0;
            j++;
            if (j < s->n && t[j] == ' ')
                j++;
        }
    }
    if (len[0] < 1 || len[0] > 2 || len[1] < 1 || len[1] > 2 || (len[2] != 2 && len[2] != 4))
        return 0;
    if (j < s->n && (is_digit(t[j]) || (t[j] == '.' && j + 1 < s->n && is_digit(t[j + 1]))))
        return 0;
    if (part[0] < 1 || part[0] > 31 || part[1] < 1 || part[1] > 12)
        return 0;
    *end = j;
    *year = len[2] == 2 ? -1 : part[2];
    return 1;
}

/* Is there a birth keyword within the 40 bytes before i? */
static int birth_keyword_before(const scan *s, size_t i)
{
    static const char *const kw[] = {"geb.", "geboren", "geburtsdatum", "geb.-datum", "geburtstag", "date of birth",
                                     "born", "dob"};
    size_t from = i > 40 ? i - 40 : 0;
    for (size_t p = from; p < i; p++)
        for (size_t k = 0; k < sizeof kw / sizeof kw[0]; k++) {
            size_t n = strlen(kw[k]);
            if (p + n > i)
                continue;
            size_t m = 0;
            while (m < n && lower(s->t[p + m]) == kw[k][m])
                m++;
            if (m == n && (p == 0 || !is_alpha(s->t[p - 1])))
                return 1;
        }
    return 0;
}

static void find_birth(scan *s)
{
    const char *t = s->t;
    int cy = current_year();
    for (size_t i = 0; i < s->n; i++) {
        if (!is_digit(t[i]) || (i > 0 && (is_digit(t[i - 1]) || t[i - 1] == '.')))
            continue;
        size_t end;
        int year;
        if (!parse_date(s, i, &end, &year))
            continue;
        int plausible = year >= 1900 && year <= cy - 14;
        if (plausible || birth_keyword_before(s, i)) {
            add(s, PII_BIRTH_DATE, i, end);
            i = end;
        }
    }
}

/* ------------------------------------------------------------ addresses */

static const char *const street_suffix[] = {
    "straße", "strasse", "str.", "weg", "gasse", "allee", "platz", "ring", "damm", "ufer", "chaussee",
    "steig", "pfad", "markt", "graben", "wall", "hof", "stieg", "twiete", "kamp",
};

static int ends_with_ci(const char *w, size_t wl, const char *suf)
{
    size_t sl = strlen(suf);
    if (sl > wl)
        return 0;
    for (size_t k = 0; k < sl; k++)
        if (lower(w[wl - sl + k]) != suf[k])
            return 0;
    return 1;
}

static int starts_upper(const char *w, size_t wl)
{
    const unsigned char *u = (const unsigned char *)w;
    if (wl >= 1 && u[0] >= 'A' && u[0] <= 'Z')
        return 1;
    /* Ä Ö Ü */
    return wl >= 2 && u[0] == 0xC3 && (u[1] == 0x84 || u[1] == 0x96 || u[1] == 0x9C);
}

static void find_address(scan *s)
{
    const char *t = s->t;
    for (size_t i = 1; i < s->n; i++) {
        /* a house number: 1-4 digits, optional letter, optional -/ range */
        if (!is_digit(t[i]) || t[i - 1] != ' ')
            continue;
        size_t j = i, nd = 0;
        while (j < s->n && is_digit(t[j]) && nd < 5) {
            j++;
            nd++;
        }
        if (nd > 4 || t[i] == '0')
            continue;
        if (j < s->n && is_alpha(t[j]) && (j + 1 >= s->n || !is_alpha(t[j + 1])))
            j++;
        if (j + 1 < s->n && (t[j] == '-' || t[j] == '/') && is_digit(t[j + 1])) {
            j++;
            while (j < s->n && is_digit(t[j]))
                j++;
            if (j < s->n && is_alpha(t[j]) && (j + 1 >= s->n || !is_alpha(t[j + 1])))
                j++;
        }
        if (j < s->n && (is_alnum(t[j]) || ((t[j] == '.' || t[j] == ',') && j + 1 < s->n && is_digit(t[j + 1]))))
            continue;
        /* the word before the space */
        size_t we = i - 1, ws = we;
        while (ws > 0 && t[ws - 1] != ' ' && t[ws - 1] != '\n' && t[ws - 1] != '\t' && t[ws - 1] != '(' &&
               t[ws - 1] != ',')
            ws--;
        size_t wl = we - ws;
        if (wl < 3 || !starts_upper(t + ws, wl))
            continue;
        int street = 0;
        for (size_t k = 0; k < sizeof street_suffix / sizeof street_suffix[0] && !street; k++)
            street = ends_with_ci(t + ws, wl, street_suffix[k]);
        if (!street)
            continue;
        add(s, PII_ADDRESS, ws, j);
        i = j;
    }
}

/* ------------------------------------------------------------ driver */

size_t pii_scan(const char *text, size_t len, pii_finding *out, size_t cap)
{
    scan sc = {.t = text, .n = text ? len : 0};
    scan *s = &sc;
    /* order = priority when findings overlap */
    find_iban(s);
    find_email(s);
    find_taxid(s);
    find_birth(s);
    find_phone(s);
    find_address(s);
    /* sort by start (stable insertion sort keeps priority for equal starts) */
    for (size_t i = 1; i < s->nf; i++) {
        pii_finding f = s->f[i];
        size_t j = i;
        while (j > 0 && s->f[j - 1].start > f.start) {
            s->f[j] = s->f[j - 1];
            j--;
        }
        s->f[j] = f;
    }
    /* drop overlaps: keep the first, or a longer one of higher priority */
    size_t k = 0;
    for (size_t i = 0; i < s->nf; i++) {
        if (k > 0 && s->f[i].start < s->f[k - 1].end) {
            if (s->f[i].kind < s->f[k - 1].kind && s->f[i].end - s->f[i].start > s->f[k - 1].end - s->f[k - 1].start)
                s->f[k - 1] = s->f[i];
            continue;
        }
        s->f[k++] = s->f[i];
    }
    for (size_t i = 0; i < k && i < cap; i++)
        out[i] = s->f[i];
    return k;
}
