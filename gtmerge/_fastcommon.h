/* Checks shared by gtmerge's C fast paths (the validator's _fastlines.c and the Ground Truth
 * reader's _fastgt.c): each restates one rule of gtmerge.rekognition for a parsed JSON value,
 * as Python would judge it, so that a fast path accepts exactly what the Python rules accept.
 * And the helpers they share with the merge's _fastmerge.c: a count, a number's digits.
 */
#ifndef GTMERGE_FASTCOMMON_H
#define GTMERGE_FASTCOMMON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>

/* Coordinates and sizes above this are left to the Python rules, so that sums of two of them
 * stay exact in a double as they are in Python's integers. */
#define LARGEST_FAST_INT (1LL << 31)

static inline PyObject *
field(PyObject *dict, PyObject *key)
{
    return PyDict_GetItemWithError(dict, key); /* borrowed; NULL and no error: missing */
}

#define MISSING_OR_ERROR (PyErr_Occurred() ? -1 : 0)

/* An int or float of the fast range, as Python would compare and add it. */
static inline int
small_number(PyObject *value, double *out)
{
    if (PyFloat_CheckExact(value)) {
        *out = PyFloat_AS_DOUBLE(value);
        return isfinite(*out);
    }
    if (PyLong_CheckExact(value)) {
        int overflow;
        long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow || number > LARGEST_FAST_INT || number < -LARGEST_FAST_INT)
            return 0;
        *out = (double)number;
        return 1;
    }
    return 0; /* bool is a subclass of int and is not a number here */
}

static inline int
is_confidence(PyObject *value)
{
    double number;
    return small_number(value, &number) && number >= 0.0 && number <= 1.0;
}

static inline int
positive_int(PyObject *value, long long *out)
{
    int overflow;
    if (value == NULL || !PyLong_CheckExact(value))
        return 0;
    *out = PyLong_AsLongLongAndOverflow(value, &overflow);
    return !overflow && *out > 0 && *out <= LARGEST_FAST_INT;
}

static inline int
same_text(PyObject *value, PyObject *text)
{
    return PyUnicode_CheckExact(value) && PyUnicode_Compare(value, text) == 0;
}

static inline int
is_name(PyObject *value)
{
    return value != NULL && PyUnicode_CheckExact(value) && PyUnicode_GET_LENGTH(value) > 0;
}

static inline int
read_digits(const char *text, int count, int *out)
{
    *out = 0;
    for (int i = 0; i < count; i++) {
        if (text[i] < '0' || text[i] > '9')
            return 0;
        *out = *out * 10 + (text[i] - '0');
    }
    return 1;
}

/* rekognition.is_valid_creation_date: YYYY-MM-DD, 'T' or a space, HH:MM:SS, an optional
 * fraction of 1 to 9 digits, an optional 'Z' or +HH:MM, +HHMM (or -), and a real calendar
 * date and time of day. */
static inline int
is_valid_date(PyObject *value)
{
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int year, month, day, hour, minute, second, zone;
    if (!PyUnicode_CheckExact(value) || !PyUnicode_IS_ASCII(value))
        return 0;
    Py_ssize_t length = PyUnicode_GET_LENGTH(value), at = 19;
    const char *text = (const char *)PyUnicode_DATA(value);
    if (length < at || !read_digits(text, 4, &year) || text[4] != '-' ||
        !read_digits(text + 5, 2, &month) || text[7] != '-' ||
        !read_digits(text + 8, 2, &day) || (text[10] != 'T' && text[10] != ' ') ||
        !read_digits(text + 11, 2, &hour) || text[13] != ':' ||
        !read_digits(text + 14, 2, &minute) || text[16] != ':' ||
        !read_digits(text + 17, 2, &second))
        return 0;
    if (at < length && text[at] == '.') {
        Py_ssize_t start = ++at;
        while (at < length && text[at] >= '0' && text[at] <= '9')
            at++;
        if (at == start || at - start > 9)
            return 0;
    }
    const char *rest = text + at;
    Py_ssize_t left = length - at;
    int zone_ok = left == 0 || (left == 1 && rest[0] == 'Z') ||
                  ((rest[0] == '+' || rest[0] == '-') &&
                   ((left == 5 && read_digits(rest + 1, 4, &zone)) ||
                    (left == 6 && read_digits(rest + 1, 2, &zone) && rest[3] == ':' &&
                     read_digits(rest + 4, 2, &zone))));
    if (!zone_ok || year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 ||
        minute > 59 || second > 59)
        return 0;
    int leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    return day <= month_days[month - 1] + (month == 2 && leap);
}

/* counts[name] += 1 in a dict of ints; -1 on error. */
static inline int
count_one(PyObject *counts, PyObject *name)
{
    PyObject *count = PyDict_GetItemWithError(counts, name);
    if (count == NULL && PyErr_Occurred())
        return -1;
    Py_ssize_t before = count == NULL ? 0 : PyLong_AsSsize_t(count);
    PyObject *more = before == -1 && PyErr_Occurred() ? NULL : PyLong_FromSsize_t(before + 1);
    if (more == NULL)
        return -1;
    int stored = PyDict_SetItem(counts, name, more);
    Py_DECREF(more);
    return stored;
}

/* The decimal digits of ``number``, at least ``width`` of them (zero-padded), written at
 * the end of the ``size`` bytes at ``text`` (24 hold any number); their length. snprintf
 * cost more than the rest of a label's rendering. */
static inline int
digits(char *text, size_t size, long long number, int width)
{
    unsigned long long rest =
        number < 0 ? 0ULL - (unsigned long long)number : (unsigned long long)number;
    char *at = text + size;
    do {
        *--at = (char)('0' + rest % 10);
        rest /= 10;
    } while (rest || text + size - at < width);
    if (number < 0)
        *--at = '-';
    return (int)(text + size - at);
}

#endif
