/* One lazy-Adam step on the first-layer rows a training batch touches, in place: training's hot loop.
 *
 * `network._LazyRows.step_rows` in Python gathers the rows of the weights and both moments,
 * updates the copies in ten array passes and scatters them back; here each touched row is
 * updated once where it lives. Bit-for-bit the same result: the same float32 operations in the
 * same order per element (no fused multiply-add: setup.py compiles with -ffp-contract=off), so
 * a model trained either way has the same hash. Built by setuptools as an optional extension;
 * `network` falls back to the Python path when it is missing. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>

static int view(PyObject *obj, Py_buffer *buf, int writable, char format, const char *name) {
    if (PyObject_GetBuffer(obj, buf, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)) < 0) return -1;
    char got = buf->format == NULL ? 0 : buf->format[0];
    if (got == 'q') got = 'l'; /* int64 is spelled either way */
    if (got != format || buf->itemsize != (format == 'f' ? 4 : 8)) {
        PyErr_Format(PyExc_TypeError, "%s: expected a contiguous %s array", name, format == 'f' ? "float32" : "int64");
        PyBuffer_Release(buf);
        return -1;
    }
    return 0;
}

/* adam_rows(param, m, v, rows, grad, lr_t, beta1, beta2, eps): for each i, row rows[i] of
 * param / m / v (float32, n x h) takes one Adam step with gradient grad[i] (float32, len(rows) x h). */
static PyObject *adam_rows(PyObject *self, PyObject *args) {
    PyObject *objs[5];
    double lr_t, beta1, beta2, eps;
    if (!PyArg_ParseTuple(args, "OOOOOdddd", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4], &lr_t, &beta1, &beta2, &eps)) return NULL;
    Py_buffer b[5] = {{0}};
    static const char *names[] = {"param", "m", "v", "rows", "grad"};
    static const char formats[] = {'f', 'f', 'f', 'l', 'f'};
    static const int writable[] = {1, 1, 1, 0, 0};
    PyObject *result = NULL;
    int got = 0;
    for (; got < 5; got++)
        if (view(objs[got], &b[got], writable[got], formats[got], names[got]) < 0) goto done;
    Py_ssize_t n_rows = b[3].len / 8;
    if (b[0].ndim != 2 || b[1].len != b[0].len || b[2].len != b[0].len || b[4].len != n_rows * b[0].shape[1] * 4) {
        PyErr_SetString(PyExc_ValueError, "adam_rows: shapes do not match (param, m, v: n x h; grad: len(rows) x h)");
        goto done;
    }
    const Py_ssize_t n = b[0].shape[0], h = b[0].shape[1];
    float *param = b[0].buf, *m = b[1].buf, *v = b[2].buf;
    const int64_t *rows = b[3].buf;
    const float *grad = b[4].buf;
    for (Py_ssize_t i = 0; i < n_rows; i++)
        if (rows[i] < 0 || rows[i] >= n) {
            PyErr_SetString(PyExc_IndexError, "adam_rows: row index out of range");
            goto done;
        }
    /* the constants exactly as numpy sees them: Python floats cast to float32 */
    const float c_b1 = (float)beta1, c_1b1 = (float)(1.0 - beta1), c_b2 = (float)beta2, c_1b2 = (float)(1.0 - beta2);
    const float c_eps = (float)eps, c_lr = (float)lr_t;
    const Py_ssize_t ahead = 8; /* rows are scattered over the arrays: fetch a few rows ahead */
    for (Py_ssize_t i = 0; i < n_rows; i++) {
        if (i + ahead < n_rows) {
            const char *pa = (const char *)(param + rows[i + ahead] * h), *ma = (const char *)(m + rows[i + ahead] * h),
                       *va = (const char *)(v + rows[i + ahead] * h);
            for (Py_ssize_t k = 0; k < h * 4; k += 64) {
                __builtin_prefetch(pa + k, 1);
                __builtin_prefetch(ma + k, 1);
                __builtin_prefetch(va + k, 1);
            }
        }
        float *p = param + rows[i] * h, *mr = m + rows[i] * h, *vr = v + rows[i] * h;
        const float *g = grad + i * h;
        for (Py_ssize_t k = 0; k < h; k++) {
            float mk = mr[k] * c_b1;
            float t = c_1b1 * g[k];
            mk = mk + t;
            float g2 = g[k] * g[k];
            g2 = g2 * c_1b2;
            float vk = vr[k] * c_b2;
            vk = vk + g2;
            float s = sqrtf(vk);
            s = s + c_eps;
            s = mk / s;
            s = s * c_lr;
            mr[k] = mk;
            vr[k] = vk;
            p[k] = p[k] - s;
        }
    }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    for (int i = 0; i < got; i++) PyBuffer_Release(&b[i]);
    return result;
}

static PyMethodDef methods[] = {
    {"adam_rows", adam_rows, METH_VARARGS, "adam_rows(param, m, v, rows, grad, lr_t, beta1, beta2, eps): in-place Adam on rows"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_adam", "Lazy Adam on touched rows, compiled.", -1, methods};

PyMODINIT_FUNC PyInit__adam(void) { return PyModule_Create(&module); }
