/* A separate-process implementation in C, driven through --command (expected verdict: matches).
 *
 *   gcc -O2 -std=c99 -o standalone_c standalone.c -lm
 *   ./standalone_c CASE.npz OUT.npz
 *
 * Reads a gradref case file (docs/formats.md), or any .npz that np.savez writes (ZIP64 extra
 * fields, NPY 1.0-3.0, float64/float32/int64/int32, C or Fortran order); the .json sidecar gives
 * the activations, the loss and lambda. Supports layout "columns" with "column" biases;
 * activations relu, leaky_relu(s), tanh, sigmoid, linear; losses bce (after sigmoid), square,
 * half_square. Writes dW1, db1, ... as a stored .npz. Exit status 3 for a case it does not
 * support (gradref reports it as skipped), 1 for anything else that goes wrong. Assumes a
 * little-endian machine.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXL 32

typedef struct { char name[64]; int rows, cols; double *data; } Array;

static void die(const char *what, const char *detail) {
    fprintf(stderr, "standalone_c: %s%s\n", what, detail ? detail : "");
    exit(1);
}

/* gradref's "unsupported" answer: exit status 3, the reason on stderr. */
static void unsupported(const char *what, const char *detail) {
    fprintf(stderr, "standalone_c: %s%s\n", what, detail ? detail : "");
    exit(3);
}

static unsigned char *slurp(const char *path, long *size) {
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open ", path);
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(*size + 1);
    if (fread(buf, 1, *size, f) != (size_t)*size) die("cannot read ", path);
    buf[*size] = 0;
    fclose(f);
    return buf;
}

static unsigned rd16(const unsigned char *p) { return p[0] | p[1] << 8; }
static uint32_t rd32(const unsigned char *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }

static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* The ZIP64 extended-information extra field (id 1) of a central directory entry: the 64-bit
 * values of whichever of size, compressed size and offset were stored as 0xFFFFFFFF. */
static void zip64_fields(const unsigned char *extra, unsigned xlen, uint64_t *usize,
                         uint64_t *csize, uint64_t *offset) {
    const unsigned char *p = extra, *end = extra + xlen;
    while (p + 4 <= end) {
        unsigned id = rd16(p), len = rd16(p + 2);
        const unsigned char *q = p + 4;
        if (id == 1) {
            if (*usize == 0xFFFFFFFFu) { *usize = rd64(q); q += 8; }
            if (*csize == 0xFFFFFFFFu) { *csize = rd64(q); q += 8; }
            if (*offset == 0xFFFFFFFFu) { *offset = rd64(q); }
        }
        p += 4 + len;
    }
}

/* One NPY member (format 1.0, 2.0 or 3.0; dtypes <f8, <f4, <i8, <i4; C or Fortran order;
 * 0, 1 or 2 dimensions) as a row-major array of doubles; shapes (n,) and () become (n, 1)
 * and (1, 1). */
static void read_npy(const unsigned char *npy, uint64_t size, Array *a) {
    if (size < 10 || memcmp(npy, "\x93NUMPY", 6)) die("not an NPY member", NULL);
    unsigned major = npy[6];
    uint64_t hlen = major == 1 ? rd16(npy + 8) : rd32(npy + 8);
    uint64_t start = (major == 1 ? 10 : 12) + hlen;
    if (start > size) die("truncated NPY header", NULL);
    char header[4096];
    snprintf(header, sizeof header, "%.*s", (int)(hlen < 4095 ? hlen : 4095),
             (const char *)npy + (major == 1 ? 10 : 12));
    const char *descr = strstr(header, "'descr': '");
    if (!descr) die("NPY header without descr", NULL);
    descr += 10;
    int f8 = !strncmp(descr, "<f8", 3), f4 = !strncmp(descr, "<f4", 3);
    int i8 = !strncmp(descr, "<i8", 3), i4 = !strncmp(descr, "<i4", 3);
    if (!f8 && !f4 && !i8 && !i4) die("unsupported NPY dtype (need <f8, <f4, <i8 or <i4): ", header);
    int fortran = strstr(header, "'fortran_order': True") != NULL;
    const char *shape = strstr(header, "'shape': (");
    if (!shape) die("NPY header without shape", NULL);
    shape += 10;
    long dims[3] = {1, 1, 1};
    int nd = 0;
    while (*shape != ')' && nd < 3) {
        while (*shape == ' ' || *shape == ',') shape++;
        if (*shape == ')') break;
        dims[nd++] = strtol(shape, (char **)&shape, 10);
    }
    if (nd > 2) die("arrays of more than 2 dimensions are not supported", NULL);
    a->rows = (int)dims[0];
    a->cols = nd == 2 ? (int)dims[1] : 1;
    size_t n = (size_t)a->rows * a->cols, width = (f8 || i8) ? 8 : 4;
    if (start + n * width > size) die("truncated NPY data", NULL);
    a->data = malloc(sizeof(double) * (n ? n : 1));
    const unsigned char *data = npy + start;
    for (size_t k = 0; k < n; k++) {
        double v;
        if (f8) { uint64_t u = rd64(data + 8 * k); memcpy(&v, &u, 8); }
        else if (f4) { uint32_t u = rd32(data + 4 * k); float f; memcpy(&f, &u, 4); v = f; }
        else if (i8) v = (double)(int64_t)rd64(data + 8 * k);
        else v = (double)(int32_t)rd32(data + 4 * k);
        /* element k of a Fortran-ordered (column-major) array is (k % rows, k / rows) */
        size_t at = fortran ? (k % a->rows) * a->cols + k / a->rows : k;
        a->data[at] = v;
    }
}

/* Every member of an .npz as NumPy writes it: np.savez (stored members, ZIP64 extra fields,
 * sizes possibly only in the central directory) as well as gradref's own files. The central
 * directory is authoritative, so it is read first. Compressed members (np.savez_compressed)
 * would need zlib: they are refused with a message. */
static int read_npz(const char *path, Array *out, int max) {
    long size;
    unsigned char *buf = slurp(path, &size);
    long eocd = size - 22;
    while (eocd >= 0 && rd32(buf + eocd) != 0x06054b50) eocd--;
    if (eocd < 0) die("not a ZIP archive: ", path);
    uint64_t entries = rd16(buf + eocd + 10), cd = rd32(buf + eocd + 16);
    if ((cd == 0xFFFFFFFFu || entries == 0xFFFF) && eocd >= 20 && rd32(buf + eocd - 20) == 0x07064b50) {
        uint64_t z = rd64(buf + eocd - 20 + 8); /* the ZIP64 end of central directory */
        entries = rd64(buf + z + 32);
        cd = rd64(buf + z + 48);
    }
    int n = 0;
    uint64_t p = cd;
    for (uint64_t i = 0; i < entries && n < max; i++) {
        if (p + 46 > (uint64_t)size || rd32(buf + p) != 0x02014b50) die("corrupt ZIP central directory in ", path);
        unsigned method = rd16(buf + p + 10), nlen = rd16(buf + p + 28), xlen = rd16(buf + p + 30), clen = rd16(buf + p + 32);
        uint64_t csize = rd32(buf + p + 20), usize = rd32(buf + p + 24), offset = rd32(buf + p + 42);
        zip64_fields(buf + p + 46 + nlen, xlen, &usize, &csize, &offset);
        if (method != 0) die("compressed .npz members (np.savez_compressed) are not supported; use np.savez: ", path);
        const unsigned char *name = buf + p + 46;
        if (nlen < 5 || memcmp(name + nlen - 4, ".npy", 4)) die("a member that is not .npy in ", path);
        const unsigned char *local = buf + offset;
        const unsigned char *npy = local + 30 + rd16(local + 26) + rd16(local + 28);
        Array *a = &out[n++];
        snprintf(a->name, sizeof a->name, "%.*s", (int)(nlen - 4), name);
        read_npy(npy, csize, a);
        p += 46 + nlen + xlen + clen;
    }
    free(buf);
    return n;
}

static Array *find(Array *arrays, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(arrays[i].name, name)) return &arrays[i];
    die("case has no array ", name);
    return NULL;
}

/* The JSON value after "key": (a string is copied without quotes). */
static const char *json_after(const char *text, const char *key) {
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    const char *p = strstr(text, quoted);
    if (!p) die("sidecar lacks ", key);
    p += strlen(quoted);
    while (*p == ' ' || *p == ':' || *p == '\n') p++;
    return p;
}

static void json_string(const char *text, const char *key, char *out, int size) {
    const char *p = json_after(text, key);
    if (*p != '"') die("sidecar: expected a string for ", key);
    const char *end = strchr(p + 1, '"');
    snprintf(out, size, "%.*s", (int)(end - p - 1), p + 1);
}

enum { RELU, LEAKY, TANH, SIGMOID, LINEAR };

static double act(int g, double s, double z) {
    switch (g) {
    case RELU: return z > 0 ? z : 0;
    case LEAKY: return z > 0 ? z : s * z;
    case TANH: return tanh(z);
    case SIGMOID: return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
    default: return z;
    }
}

static double dact(int g, double s, double z, double a) {
    switch (g) {
    case RELU: return z > 0;
    case LEAKY: return z > 0 ? 1 : s;
    case TANH: return 1 - a * a;
    case SIGMOID: return a * (1 - a);
    default: return 1;
    }
}

/* ---- writing a stored .npz ---- */
static uint32_t crc32(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & -(c & 1));
    }
    return ~c;
}

static void put16(FILE *f, unsigned v) { fputc(v & 255, f); fputc(v >> 8 & 255, f); }
static void put32(FILE *f, uint32_t v) { put16(f, v & 0xFFFF); put16(f, v >> 16); }

static void write_npz(const char *path, Array *arrays, int n) {
    FILE *f = fopen(path, "wb");
    if (!f) die("cannot write ", path);
    uint32_t offsets[2 * MAXL], crcs[2 * MAXL], sizes[2 * MAXL];
    for (int i = 0; i < n; i++) {
        char header[128];
        int len = snprintf(header, sizeof header, "{'descr': '<f8', 'fortran_order': False, "
                           "'shape': (%d, %d), }", arrays[i].rows, arrays[i].cols);
        while ((10 + len + 1) % 64) header[len++] = ' ';
        header[len++] = '\n';
        size_t bytes = sizeof(double) * arrays[i].rows * arrays[i].cols, total = 10 + len + bytes;
        unsigned char *npy = malloc(total);
        memcpy(npy, "\x93NUMPY\x01\x00", 8);
        npy[8] = len & 255; npy[9] = len >> 8;
        memcpy(npy + 10, header, len);
        memcpy(npy + 10 + len, arrays[i].data, bytes);
        offsets[i] = (uint32_t)ftell(f); crcs[i] = crc32(npy, total); sizes[i] = (uint32_t)total;
        put32(f, 0x04034b50); put16(f, 20); put16(f, 0); put16(f, 0); put16(f, 0); put16(f, 33);
        put32(f, crcs[i]); put32(f, sizes[i]); put32(f, sizes[i]);
        put16(f, (unsigned)strlen(arrays[i].name) + 4); put16(f, 0);
        fprintf(f, "%s.npy", arrays[i].name);
        fwrite(npy, 1, total, f);
        free(npy);
    }
    uint32_t start = (uint32_t)ftell(f);
    for (int i = 0; i < n; i++) {
        put32(f, 0x02014b50); put16(f, 20); put16(f, 20); put16(f, 0); put16(f, 0); put16(f, 0);
        put16(f, 33); put32(f, crcs[i]); put32(f, sizes[i]); put32(f, sizes[i]);
        put16(f, (unsigned)strlen(arrays[i].name) + 4); put16(f, 0); put16(f, 0); put16(f, 0);
        put16(f, 0); put32(f, 0); put32(f, offsets[i]);
        fprintf(f, "%s.npy", arrays[i].name);
    }
    uint32_t end = (uint32_t)ftell(f);
    put32(f, 0x06054b50); put16(f, 0); put16(f, 0); put16(f, n); put16(f, n);
    put32(f, end - start); put32(f, start); put16(f, 0);
    fclose(f);
}

int main(int argc, char **argv) {
    if (argc != 3) die("usage: standalone_c CASE.npz OUT.npz", NULL);
    char json_path[4096], text[64];
    snprintf(json_path, sizeof json_path, "%.*s.json", (int)strlen(argv[1]) - 4, argv[1]);
    long jsize;
    char *json = (char *)slurp(json_path, &jsize);
    json_string(json, "layout", text, sizeof text);
    if (strcmp(text, "columns")) unsupported("only layout columns is supported, got ", text);
    json_string(json, "bias", text, sizeof text);
    if (strcmp(text, "column")) unsupported("only column biases are supported, got ", text);
    char loss[32];
    json_string(json, "loss", loss, sizeof loss);
    double l2 = strtod(json_after(json, "l2"), NULL);

    int L = 0, g[MAXL];
    double slope[MAXL];
    const char *p = strchr(json_after(json, "activations"), '[') + 1;
    while ((p = strpbrk(p, "\"]")) && *p == '"' && L < MAXL) {
        char spec[64];
        const char *end = strchr(p + 1, '"');
        snprintf(spec, sizeof spec, "%.*s", (int)(end - p - 1), p + 1);
        p = end + 1;
        slope[L] = 0.01;
        if (!strncmp(spec, "leaky_relu", 10)) { g[L] = LEAKY; if (spec[10] == '(') slope[L] = atof(spec + 11); }
        else if (!strcmp(spec, "relu")) g[L] = RELU;
        else if (!strcmp(spec, "tanh")) g[L] = TANH;
        else if (!strcmp(spec, "sigmoid")) g[L] = SIGMOID;
        else if (!strcmp(spec, "linear")) g[L] = LINEAR;
        else unsupported("unsupported activation ", spec);
        L++;
    }
    int bce = !strcmp(loss, "bce"), square = !strcmp(loss, "square");
    if (!bce && !square && strcmp(loss, "half_square")) unsupported("unsupported loss ", loss);
    if (bce && g[L - 1] != SIGMOID) die("bce needs a sigmoid output", NULL);

    Array arrays[2 * MAXL + 2];
    int n = read_npz(argv[1], arrays, 2 * MAXL + 2);
    Array *W[MAXL + 1], *b[MAXL + 1];
    char key[16];
    for (int l = 1; l <= L; l++) {
        snprintf(key, sizeof key, "W%d", l); W[l] = find(arrays, n, key);
        snprintf(key, sizeof key, "b%d", l); b[l] = find(arrays, n, key);
    }
    Array *X = find(arrays, n, "X"), *Y = find(arrays, n, "Y");
    int m = X->cols;
    double *A[MAXL + 1], *Z[MAXL + 1];
    A[0] = X->data;
    for (int l = 1; l <= L; l++) { /* Z = W A + b, A = g(Z) */
        int rows = W[l]->rows, inner = W[l]->cols;
        Z[l] = calloc(rows * m, sizeof(double));
        A[l] = calloc(rows * m, sizeof(double));
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < m; j++) {
                double s = b[l]->data[i];
                for (int k = 0; k < inner; k++) s += W[l]->data[i * inner + k] * A[l - 1][k * m + j];
                Z[l][i * m + j] = s;
                A[l][i * m + j] = act(g[l - 1], slope[l - 1], s);
            }
    }
    int rows = W[L]->rows;
    double *dZ = malloc(sizeof(double) * rows * m);
    for (int i = 0; i < rows * m; i++) {
        double a = A[L][i], y = Y->data[i];
        dZ[i] = bce ? a - y : (square ? 2 : 1) * (a - y) * dact(g[L - 1], slope[L - 1], Z[L][i], a);
    }
    Array grads[2 * MAXL];
    for (int l = L; l >= 1; l--) {
        int r = W[l]->rows, c = W[l]->cols;
        Array *dW = &grads[2 * (l - 1)], *db = &grads[2 * (l - 1) + 1];
        snprintf(dW->name, sizeof dW->name, "dW%d", l); dW->rows = r; dW->cols = c;
        snprintf(db->name, sizeof db->name, "db%d", l); db->rows = r; db->cols = 1;
        dW->data = calloc(r * c, sizeof(double));
        db->data = calloc(r, sizeof(double));
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < m; j++) db->data[i] += dZ[i * m + j] / m;
            for (int k = 0; k < c; k++) {
                double s = 0;
                for (int j = 0; j < m; j++) s += dZ[i * m + j] * A[l - 1][k * m + j];
                dW->data[i * c + k] = s / m + l2 / m * W[l]->data[i * c + k];
            }
        }
        if (l > 1) { /* dZ_prev = (W^T dZ) * g'(Z_prev) */
            double *prev = calloc(c * m, sizeof(double));
            for (int k = 0; k < c; k++)
                for (int j = 0; j < m; j++) {
                    double s = 0;
                    for (int i = 0; i < r; i++) s += W[l]->data[i * c + k] * dZ[i * m + j];
                    prev[k * m + j] = s * dact(g[l - 2], slope[l - 2], Z[l - 1][k * m + j], A[l - 1][k * m + j]);
                }
            free(dZ);
            dZ = prev;
        }
    }
    write_npz(argv[2], grads, 2 * L);
    return 0;
}
