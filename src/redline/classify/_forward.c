/* The built-in model's forward pass over one text's tokens, compiled: the classifier's hot path.
 *
 * Computes what `TextModel.scores(TextModel.columns(text), dense)` computes in Python (same
 * terms, same float32 arithmetic; sums may differ in the last bit because they run in another
 * order), without a Python object per n-gram: each distinct word is looked up once in a word
 * table (its id, unigram column and character n-gram columns as int64 bytes, filled by a Python callback on
 * first sight), word n-grams and skip-grams are integer keys found in an open-addressing hash
 * table (one probe, where a binary search over 150k keys cost a cache miss per step), and the
 * first layer is a weighted sum of the rows the text touches.
 *
 * Built by setuptools as an optional extension; `redline.classify.fast` falls back to the
 * Python path when it is missing. Owns no state beyond the references `Forward` holds. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    PyObject *words; /* dict: word -> (word id, unigram column, gram columns...) */
    PyObject *fill;  /* callable(word) -> that tuple (and stores it in `words`) */
    Py_buffer idf, w1, b1, w2, b2;
    int64_t *slot_keys, *slot_cols; /* n-gram key -> column; EMPTY marks a free slot */
    uint64_t mask;
    int64_t base;
    int max_n, skip_grams, hidden, classes;
    float norm_floor;
} Forward;

#define EMPTY INT64_MIN

static void release(Forward *f) {
    Py_buffer *bufs[] = {&f->idf, &f->w1, &f->b1, &f->w2, &f->b2};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]->obj != NULL) PyBuffer_Release(bufs[i]);
    PyMem_Free(f->slot_keys);
    PyMem_Free(f->slot_cols);
    f->slot_keys = f->slot_cols = NULL;
}

static uint64_t slot_of(int64_t key, uint64_t mask) { return ((uint64_t)key * 0x9E3779B97F4A7C15ull >> 17) & mask; }

/* Fill the hash table from parallel arrays of keys and columns (keys are distinct). */
static int build_table(Forward *f, const Py_buffer *keys, const Py_buffer *cols) {
    Py_ssize_t n = keys->len / 8;
    uint64_t size = 16;
    while (size < 2 * (uint64_t)n) size <<= 1;
    f->slot_keys = PyMem_Malloc(size * sizeof(int64_t));
    f->slot_cols = PyMem_Malloc(size * sizeof(int64_t));
    if (f->slot_keys == NULL || f->slot_cols == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    f->mask = size - 1;
    for (uint64_t s = 0; s < size; s++) f->slot_keys[s] = EMPTY;
    const int64_t *k = keys->buf, *c = cols->buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (k[i] == EMPTY) {
            PyErr_SetString(PyExc_ValueError, "invalid n-gram key");
            return -1;
        }
        uint64_t s = slot_of(k[i], f->mask);
        while (f->slot_keys[s] != EMPTY && f->slot_keys[s] != k[i]) s = (s + 1) & f->mask;
        f->slot_keys[s] = k[i];
        f->slot_cols[s] = c[i];
    }
    return 0;
}

static void Forward_dealloc(Forward *f) {
    release(f);
    Py_XDECREF(f->words);
    Py_XDECREF(f->fill);
    Py_TYPE(f)->tp_free((PyObject *)f);
}

static int get_array(PyObject *obj, Py_buffer *view, const char *format, Py_ssize_t itemsize, const char *name) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    if (view->itemsize != itemsize || view->format == NULL || strchr(format, view->format[0]) == NULL) {
        PyErr_Format(PyExc_TypeError, "%s: expected a contiguous array of %s", name, itemsize == 4 ? "float32" : "int64");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static int Forward_init(Forward *f, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"words", "fill", "keys", "key_cols", "base", "max_n", "skip_grams", "idf", "w1", "b1", "w2", "b2",
                             "norm_floor", NULL};
    PyObject *words, *fill, *keys, *key_cols, *idf, *w1, *b1, *w2, *b2;
    long long base;
    int max_n, skip_grams;
    double norm_floor;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!OOOLipOOOOOd", kwlist, &PyDict_Type, &words, &fill, &keys, &key_cols, &base,
                                     &max_n, &skip_grams, &idf, &w1, &b1, &w2, &b2, &norm_floor))
        return -1;
    if (!PyCallable_Check(fill)) {
        PyErr_SetString(PyExc_TypeError, "fill must be callable");
        return -1;
    }
    release(f);
    Py_buffer kb = {0}, cb = {0};
    if (get_array(keys, &kb, "lq", 8, "keys") < 0) return -1;
    if (get_array(key_cols, &cb, "lq", 8, "key_cols") < 0) {
        PyBuffer_Release(&kb);
        return -1;
    }
    int built = kb.len == cb.len ? build_table(f, &kb, &cb) : (PyErr_SetString(PyExc_ValueError, "keys and key_cols differ in length"), -1);
    PyBuffer_Release(&kb);
    PyBuffer_Release(&cb);
    if (built < 0) return -1;
    if (get_array(idf, &f->idf, "f", 4, "idf") < 0 || get_array(w1, &f->w1, "f", 4, "w1") < 0 || get_array(b1, &f->b1, "f", 4, "b1") < 0 ||
        get_array(w2, &f->w2, "f", 4, "w2") < 0 || get_array(b2, &f->b2, "f", 4, "b2") < 0)
        return -1;
    f->hidden = (int)(f->b1.len / 4);
    f->classes = (int)(f->b2.len / 4);
    if (f->hidden <= 0 || f->classes <= 0 || f->w2.len / 4 != (Py_ssize_t)f->hidden * f->classes || (f->w1.len / 4) % f->hidden != 0 ||
        f->idf.len / 4 > (f->w1.len / 4) / f->hidden || max_n < 1 || base < 1) {
        PyErr_SetString(PyExc_ValueError, "inconsistent model arrays");
        return -1;
    }
    Py_INCREF(words);
    Py_XSETREF(f->words, words);
    Py_INCREF(fill);
    Py_XSETREF(f->fill, fill);
    f->base = base;
    f->max_n = max_n;
    f->skip_grams = skip_grams;
    f->norm_floor = (float)norm_floor;
    return 0;
}

/* A growable array of columns. */
typedef struct {
    int64_t *v;
    Py_ssize_t n, cap;
} Cols;

static int push(Cols *c, int64_t x) {
    if (c->n == c->cap) {
        Py_ssize_t cap = c->cap ? 2 * c->cap : 256;
        int64_t *v = PyMem_Realloc(c->v, (size_t)cap * sizeof(int64_t));
        if (v == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = x;
    return 0;
}

/* A word's entry: native int64 values (word id, unigram column, gram columns...) in a bytes object. */
static const int64_t *entry_values(PyObject *e) { return (const int64_t *)PyBytes_AS_STRING(e); }
static Py_ssize_t entry_len(PyObject *e) { return PyBytes_GET_SIZE(e) / 8; }

/* The column of an n-gram key, or -1. */
static int64_t find(const Forward *f, int64_t key) {
    for (uint64_t s = slot_of(key, f->mask);; s = (s + 1) & f->mask) {
        if (f->slot_keys[s] == key) return f->slot_cols[s];
        if (f->slot_keys[s] == EMPTY) return -1;
    }
}

/* The entry of one word: from the table, else from the Python callback (a new reference). */
static PyObject *entry(Forward *f, PyObject *word) {
    PyObject *e = PyDict_GetItemWithError(f->words, word);
    if (e != NULL) {
        Py_INCREF(e);
    } else {
        if (PyErr_Occurred()) return NULL;
        e = PyObject_CallOneArg(f->fill, word);
        if (e == NULL) return NULL;
    }
    if (!PyBytes_Check(e) || PyBytes_GET_SIZE(e) < 16 || PyBytes_GET_SIZE(e) % 8 != 0) {
        Py_DECREF(e);
        PyErr_SetString(PyExc_TypeError, "word entries are int64 (id, unigram column, gram columns...) as bytes");
        return NULL;
    }
    return e;
}

/* forward(tokens, dense_rows or None) -> list of class probabilities (softmax, model order). */
static PyObject *Forward_call(Forward *f, PyObject *args, PyObject *kwds) {
    PyObject *tokens, *dense_obj;
    if (!PyArg_ParseTuple(args, "O!O", &PyList_Type, &tokens, &dense_obj)) return NULL;
    Py_buffer dense = {0};
    if (dense_obj != Py_None) {
        if (get_array(dense_obj, &dense, "f", 4, "dense_rows") < 0) return NULL;
        if (dense.len / 4 != f->hidden) {
            PyBuffer_Release(&dense);
            PyErr_SetString(PyExc_ValueError, "dense_rows must have one value per hidden unit");
            return NULL;
        }
    }
    Py_ssize_t n = PyList_GET_SIZE(tokens);
    PyObject *result = NULL;
    int64_t *counted = NULL;
    int *tf = NULL;
    Cols cols = {0};
    int64_t *ids = PyMem_Malloc((size_t)(n + 1) * sizeof(int64_t));
    /* distinct words: an open-addressing set of token indexes keyed by the words' hashes */
    Py_ssize_t slots = 16;
    while (slots < 2 * n) slots <<= 1;
    Py_ssize_t *seen = PyMem_Malloc((size_t)slots * sizeof(Py_ssize_t));
    PyObject **entries = PyMem_Calloc((size_t)(n + 1), sizeof(PyObject *));
    float *acc = PyMem_Calloc((size_t)f->hidden + (size_t)f->classes, sizeof(float));
    if (ids == NULL || seen == NULL || entries == NULL || acc == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t s = 0; s < slots; s++) seen[s] = -1;

    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *tok = PyList_GET_ITEM(tokens, i);
        if (!PyUnicode_Check(tok)) {
            PyErr_SetString(PyExc_TypeError, "tokens must be strings");
            goto done;
        }
        Py_hash_t h = PyObject_Hash(tok);
        if (h == -1) goto done;
        Py_ssize_t s = (Py_ssize_t)((size_t)h & (size_t)(slots - 1)), first = -1;
        while (seen[s] >= 0) {
            PyObject *other = PyList_GET_ITEM(tokens, seen[s]);
            int eq = PyUnicode_Compare(other, tok) == 0;
            if (eq) {
                first = seen[s];
                break;
            }
            s = (s + 1) & (slots - 1);
        }
        PyObject *e;
        if (first >= 0) {
            e = entries[first];
            Py_INCREF(e);
        } else {
            seen[s] = i;
            e = entry(f, tok);
            if (e == NULL) goto done;
            /* character n-grams count once per distinct word */
            for (Py_ssize_t g = 2; g < entry_len(e); g++)
                if (push(&cols, entry_values(e)[g]) < 0) {
                    Py_DECREF(e);
                    goto done;
                }
        }
        entries[i] = e;
        ids[i] = entry_values(e)[0];
        int64_t uni = entry_values(e)[1];
        if (uni >= 0 && push(&cols, uni) < 0) goto done;
    }

    /* word n-grams (n >= 2) and skip pairs, keyed as `fast.key_offset` says */
    int64_t b = f->base, b2 = b * b, offset = b2;
    for (int size = 2; size <= f->max_n; size++) {
        for (Py_ssize_t i = 0; i + size <= n; i++) {
            int64_t key = 0;
            int known = 1;
            for (int j = 0; j < size; j++) {
                if (ids[i + j] < 0) {
                    known = 0;
                    break;
                }
                key = key * b + ids[i + j];
            }
            int64_t col = known ? find(f, key + offset) : -1;
            if (col >= 0 && push(&cols, col) < 0) goto done;
        }
        int64_t p = 1;
        for (int k = 0; k < size; k++) p *= b;
        offset += p;
    }
    if (f->skip_grams) {
        for (Py_ssize_t i = 0; i + 2 < n; i++) {
            int64_t col = (ids[i] >= 0 && ids[i + 2] >= 0) ? find(f, ids[i] * b + ids[i + 2]) : -1;
            if (col >= 0 && push(&cols, col) < 0) goto done;
        }
    }

    /* TF-IDF (sublinear tf, L2 norm with a floor) times the first layer, one row per column */
    const int H = f->hidden, C = f->classes;
    const float *idf = f->idf.buf, *w1 = f->w1.buf, *b1 = f->b1.buf, *w2 = f->w2.buf, *b2v = f->b2.buf;
    const Py_ssize_t n_terms = f->idf.len / 4;
    float sumsq = 0.0f;
    /* The rows are scattered over tens of megabytes: ask for all of them before summing, so
       their cache misses overlap instead of queueing one after another. */
    for (Py_ssize_t i = 0; i < cols.n; i++) {
        if (cols.v[i] < 0 || cols.v[i] >= n_terms) {
            PyErr_SetString(PyExc_ValueError, "column outside the vocabulary");
            goto done;
        }
        const char *row = (const char *)(w1 + cols.v[i] * H);
        for (int k = 0; k < H * 4; k += 64) __builtin_prefetch(row + k);
    }
    /* count each column: an open-addressing table, the same hashing as the n-gram table */
    uint64_t cmask = 15;
    while (cmask + 1 < 2 * (uint64_t)cols.n) cmask = 2 * cmask + 1;
    counted = PyMem_Malloc((cmask + 1) * sizeof(int64_t));
    tf = PyMem_Calloc(cmask + 1, sizeof(int));
    if (counted == NULL || tf == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (uint64_t s = 0; s <= cmask; s++) counted[s] = EMPTY;
    for (Py_ssize_t i = 0; i < cols.n; i++) {
        uint64_t s = slot_of(cols.v[i], cmask);
        while (counted[s] != EMPTY && counted[s] != cols.v[i]) s = (s + 1) & cmask;
        counted[s] = cols.v[i];
        tf[s]++;
    }
    for (uint64_t s = 0; s <= cmask; s++) {
        if (counted[s] == EMPTY) continue;
        float v = (logf((float)tf[s]) + 1.0f) * idf[counted[s]];
        sumsq += v * v;
        const float *row = w1 + counted[s] * H;
        for (int k = 0; k < H; k++) acc[k] += v * row[k];
    }
    double norm = sqrt((double)sumsq);
    if (norm < f->norm_floor) norm = f->norm_floor;
    const float *drows = dense.buf;
    for (int k = 0; k < H; k++) {
        float h = b1[k] + (float)((double)acc[k] / norm);
        if (drows != NULL) h += drows[k];
        acc[k] = h > 0.0f ? h : 0.0f;
    }
    float *z = acc + H, zmax = -INFINITY, total = 0.0f;
    for (int c = 0; c < C; c++) {
        float s = b2v[c];
        for (int k = 0; k < H; k++) s += acc[k] * w2[k * C + c];
        z[c] = s;
        if (s > zmax) zmax = s;
    }
    for (int c = 0; c < C; c++) {
        z[c] = expf(z[c] - zmax);
        total += z[c];
    }
    result = PyList_New(C);
    if (result == NULL) goto done;
    for (int c = 0; c < C; c++) PyList_SET_ITEM(result, c, PyFloat_FromDouble((double)(z[c] / total)));

done:
    if (entries != NULL)
        for (Py_ssize_t i = 0; i < n; i++) Py_XDECREF(entries[i]);
    PyMem_Free(entries);
    PyMem_Free(ids);
    PyMem_Free(seen);
    PyMem_Free(acc);
    PyMem_Free(cols.v);
    PyMem_Free(counted);
    PyMem_Free(tf);
    if (dense.obj != NULL) PyBuffer_Release(&dense);
    return result;
}

static PyTypeObject ForwardType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "redline.classify._forward.Forward",
    .tp_basicsize = sizeof(Forward),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Forward(words, fill, keys, key_cols, base, max_n, skip_grams, idf, w1, b1, w2, b2, norm_floor); "
              "call with (tokens, dense_rows or None) for the class probabilities.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Forward_init,
    .tp_dealloc = (destructor)Forward_dealloc,
    .tp_call = (ternaryfunc)Forward_call,
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_forward", "The built-in model's compiled forward pass.", -1, NULL};

PyMODINIT_FUNC PyInit__forward(void) {
    if (PyType_Ready(&ForwardType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&ForwardType);
    if (PyModule_AddObject(m, "Forward", (PyObject *)&ForwardType) < 0) {
        Py_DECREF(&ForwardType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
