/* The Internet checksum of a TCP or UDP segment with its pseudo-header (RFC 793, RFC 768,
 * RFC 8200 section 8.1), checked in place in the captured frame.
 *
 * parsers/network/decode.py's _sum_ok computes the same in Python (the segment's big-endian
 * integer modulo 0xFFFF); this compiled version is optional (setup.py builds it when a C
 * compiler is there) and decode.py uses it when it imports. tests/parsers/test_checksum.py
 * compares the two on every packet of the corpus captures.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* One's-complement sum of the big-endian 16-bit words of buf[0:n] (an odd last byte padded
 * with zero), unfolded: the caller folds. */
static uint64_t words(const unsigned char *buf, Py_ssize_t n) {
    uint64_t sum = 0;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        sum += ((uint64_t)buf[i] << 8 | buf[i + 1]) + ((uint64_t)buf[i + 2] << 8 | buf[i + 3])
             + ((uint64_t)buf[i + 4] << 8 | buf[i + 5]) + ((uint64_t)buf[i + 6] << 8 | buf[i + 7]);
    }
    for (; i + 2 <= n; i += 2) {
        sum += (uint64_t)buf[i] << 8 | buf[i + 1];
    }
    if (i < n) {
        sum += (uint64_t)buf[i] << 8;
    }
    return sum;
}

/* sum_ok(data, start, end, src, dst, proto, size) -> bool: whether data[start:end] (a TCP or
 * UDP segment of ``size`` bytes) has a right checksum under the pseudo-header of the addresses
 * ``src``/``dst`` (4 or 16 bytes each), protocol ``proto`` and length ``size``. */
static PyObject *sum_ok(PyObject *self, PyObject *args) {
    Py_buffer data, src, dst;
    Py_ssize_t start, end, size;
    unsigned int proto;
    if (!PyArg_ParseTuple(args, "y*nny*y*In", &data, &start, &end, &src, &dst, &proto, &size)) {
        return NULL;
    }
    PyObject *result = NULL;
    if (start < 0 || end < start || end > data.len) {
        PyErr_SetString(PyExc_ValueError, "segment outside the buffer");
    } else {
        uint64_t sum = words((const unsigned char *)data.buf + start, end - start);
        sum += words(src.buf, src.len) + words(dst.buf, dst.len) + proto + (uint64_t)size;
        while (sum >> 16) {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        result = PyBool_FromLong(sum == 0xFFFF);
    }
    PyBuffer_Release(&data);
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
    return result;
}

static PyMethodDef methods[] = {
    {"sum_ok", sum_ok, METH_VARARGS, "Whether a TCP/UDP segment's checksum is right, checked in place."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_checksum", NULL, -1, methods};

PyMODINIT_FUNC PyInit__checksum(void) { return PyModule_Create(&module); }
