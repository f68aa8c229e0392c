/* The fast path of gtmerge.readers.groundtruth for the most common lines.
 *
 * leading_key(raw) finds the image key of a raw line without parsing it, as _leading_key does.
 *
 * read_clean(line) takes a parsed Ground Truth output line (a dict) and, when every label
 * attribute pair in it is a classification, multi-label or bounding-box answer that the Python
 * reader reads without dropping anything, returns what that reader builds from them: the list
 * of labels and the list of (box set, is an adjustment) pairs, in the line's order, as the
 * model's own named tuples. For anything else, however harmless (a verification verdict, a
 * failed item, an empty multi-label selection, a value the Python reader would reject), it
 * returns None and the Python reader reads the line: this file decides nothing a user sees,
 * it only spares a clean line the interpreter's cost per field.
 *
 * tests/test_fastgt.py checks, over generated lines of every kind, that whatever this path
 * accepts the Python reader reads to an equal record.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#include "../_fastcommon.h"

static PyObject *key_type, *key_class_name, *key_confidence, *key_human, *key_date, *key_job,
    *key_image_size, *key_width, *key_height, *key_depth, *key_annotations, *key_objects,
    *key_class_map, *key_confidence_map, *key_class_id, *key_left, *key_top, *key_failure,
    *key_adjustment, *text_yes, *text_no, *suffix, *cl_metadata, *default_depth;
static PyObject *classification, *multilabel, *detection;
static PyTypeObject *label_type, *box_type, *box_set_type, *image_size_type;
/* gtmerge.rekognition.MAX_LABEL_NAME_CHARS and MAX_KEY_BYTES */
static Py_ssize_t max_name_chars, max_key_bytes;

#define SUFFIX_LENGTH 9 /* "-metadata" */

/* A named tuple of the model, made as tuple.__new__ (in C) makes an instance of a tuple
 * subclass, less its temporary tuples, rather than by the class's own __new__ (Python code).
 * Steals no reference. */
static PyObject *
make(PyTypeObject *type, Py_ssize_t size, PyObject *const *items)
{
    PyObject *made = type->tp_alloc(type, size);
    if (made == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < size; i++)
        PyTuple_SET_ITEM(made, i, Py_NewRef(items[i]));
    return made;
}

/* An exact int that is not a bool, or an exact float: the reader's _NUMBERS. */
static int
is_number(PyObject *value)
{
    return value != NULL && (PyLong_CheckExact(value) || PyFloat_CheckExact(value));
}

/* 0 <= value <= 1 for an exact int or float, as Python compares them. */
static int
is_unit(PyObject *value)
{
    if (PyFloat_CheckExact(value)) {
        double number = PyFloat_AS_DOUBLE(value);
        return number >= 0.0 && number <= 1.0;
    }
    if (PyLong_CheckExact(value)) {
        int overflow;
        long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
        return !overflow && number >= 0 && number <= 1;
    }
    return 0;
}

/* A label name the reader takes: text, not empty, within Rekognition's length (a longer one
 * is left to the reader, which drops its attribute with the reason). */
static int
is_label_name(PyObject *value)
{
    return is_name(value) && PyUnicode_GET_LENGTH(value) <= max_name_chars;
}

/* A class id as the reader's _class_name takes it: an int (not a bool) or a string. */
static PyObject *
class_key(PyObject *class_id)
{
    if (PyUnicode_CheckExact(class_id))
        return Py_NewRef(class_id);
    if (PyLong_CheckExact(class_id))
        return PyObject_Str(class_id);
    return Py_NewRef(Py_None);
}

/* The name class_map gives a class id, or NULL with no error when it gives no usable name. */
static PyObject *
class_name(PyObject *class_map, PyObject *class_id)
{
    if (class_id == NULL)
        return NULL;
    PyObject *key = class_key(class_id);
    if (key == NULL || key == Py_None) {
        Py_XDECREF(key);
        return NULL;
    }
    PyObject *name = field(class_map, key);
    Py_DECREF(key);
    return is_label_name(name) ? name : NULL;
}

/* The reader's _provenance: human-annotated "yes" or "no", a valid creation-date, and the
 * job-name when it is a string. 1 with the three set (borrowed), 0 when not clean. */
static int
provenance(PyObject *metadata, PyObject **human, PyObject **date, PyObject **job)
{
    PyObject *annotated = field(metadata, key_human);
    if (annotated == NULL)
        return 0;
    if (same_text(annotated, text_yes))
        *human = Py_True;
    else if (same_text(annotated, text_no))
        *human = Py_False;
    else
        return 0;
    *date = field(metadata, key_date);
    if (*date == NULL || !is_valid_date(*date))
        return 0;
    *job = field(metadata, key_job);
    if (*job == NULL || !PyUnicode_CheckExact(*job))
        *job = Py_None;
    return 1;
}

/* -1: error; 0: not clean; 1: appended. */
static int
append_made(PyObject *list, PyTypeObject *type, Py_ssize_t size, PyObject *const *items)
{
    PyObject *made = make(type, size, items);
    if (made == NULL)
        return -1;
    int appended = PyList_Append(list, made);
    Py_DECREF(made);
    return appended < 0 ? -1 : 1;
}

static int
read_classification(PyObject *value, PyObject *metadata, PyObject *attribute,
                    PyObject *labels)
{
    PyObject *human, *date, *job;
    if (!PyLong_CheckExact(value) && !PyUnicode_CheckExact(value))
        return 0;
    PyObject *name = field(metadata, key_class_name);
    PyObject *confidence = field(metadata, key_confidence);
    if (!is_label_name(name) || !is_number(confidence) || !is_unit(confidence) ||
        !provenance(metadata, &human, &date, &job))
        return 0;
    PyObject *items[] = {name, confidence, human, date, job, attribute, Py_False};
    return append_made(labels, label_type, 7, items);
}

static int
read_multilabel(PyObject *value, PyObject *metadata, PyObject *attribute, PyObject *labels)
{
    PyObject *human, *date, *job;
    /* an empty selection is a blank answer: the Python reader keeps those */
    if (!PyList_CheckExact(value) || PyList_GET_SIZE(value) == 0)
        return 0;
    PyObject *class_map = field(metadata, key_class_map);
    PyObject *confidences = field(metadata, key_confidence_map);
    if (class_map == NULL || !PyDict_CheckExact(class_map) || confidences == NULL ||
        !PyDict_CheckExact(confidences) || !provenance(metadata, &human, &date, &job))
        return 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(value); i++) {
        PyObject *class_id = PyList_GET_ITEM(value, i);
        PyObject *key = class_key(class_id);
        if (key == NULL)
            return -1;
        if (key == Py_None) {
            Py_DECREF(key);
            return 0;
        }
        PyObject *name = field(class_map, key);
        PyObject *confidence = field(confidences, key);
        Py_DECREF(key);
        if (!is_label_name(name) || !is_number(confidence) || !is_unit(confidence))
            return 0;
        PyObject *items[] = {name, confidence, human, date, job, attribute, Py_True};
        if (append_made(labels, label_type, 7, items) < 0)
            return -1;
    }
    return 1;
}

static PyObject *
read_image_size(PyObject *value)
{
    long long number;
    PyObject *size = field(value, key_image_size);
    if (size != NULL && PyList_CheckExact(size) && PyList_GET_SIZE(size) == 1)
        size = PyList_GET_ITEM(size, 0);
    if (size == NULL || !PyDict_CheckExact(size))
        return NULL;
    PyObject *width = field(size, key_width), *height = field(size, key_height);
    PyObject *depth = field(size, key_depth);
    if (depth == NULL)
        depth = default_depth;
    if (!positive_int(width, &number) || !positive_int(height, &number) ||
        !positive_int(depth, &number))
        return NULL;
    PyObject *items[] = {width, height, depth};
    return make(image_size_type, 3, items);
}

/* Fills ``boxes`` (a tuple of the right size); 0 when one box is not clean. */
static int
read_boxes(PyObject *annotations, PyObject *objects, PyObject *class_map, PyObject *boxes)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(annotations); i++) {
        PyObject *box = PyList_GET_ITEM(annotations, i), *object = PyList_GET_ITEM(objects, i);
        if (!PyDict_CheckExact(box) || !PyDict_CheckExact(object))
            return 0;
        PyObject *left = field(box, key_left), *top = field(box, key_top);
        PyObject *width = field(box, key_width), *height = field(box, key_height);
        PyObject *confidence = field(object, key_confidence);
        if (!is_number(left) || !is_number(top) || !is_number(width) || !is_number(height) ||
            !is_number(confidence) || !is_unit(confidence))
            return 0;
        PyObject *name = class_name(class_map, field(box, key_class_id));
        if (name == NULL)
            return PyErr_Occurred() ? -1 : 0;
        PyObject *items[] = {name, left, top, width, height, confidence};
        PyObject *made = make(box_type, 6, items);
        if (made == NULL)
            return -1;
        PyTuple_SET_ITEM(boxes, i, made);
    }
    return 1;
}

static int
read_detection(PyObject *value, PyObject *metadata, PyObject *attribute, PyObject *box_sets)
{
    PyObject *human, *date, *job;
    if (!PyDict_CheckExact(value))
        return 0;
    PyObject *annotations = field(value, key_annotations);
    PyObject *objects = field(metadata, key_objects);
    PyObject *class_map = field(metadata, key_class_map);
    /* without boxes the Python reader takes a missing objects list and class-map: its turn */
    if (annotations == NULL || !PyList_CheckExact(annotations) ||
        PyList_GET_SIZE(annotations) == 0 || objects == NULL || !PyList_CheckExact(objects) ||
        PyList_GET_SIZE(objects) < PyList_GET_SIZE(annotations) || class_map == NULL ||
        !PyDict_CheckExact(class_map))
        return 0;
    PyObject *boxes = PyTuple_New(PyList_GET_SIZE(annotations));
    if (boxes == NULL)
        return -1;
    int read = read_boxes(annotations, objects, class_map, boxes);
    PyObject *size = read == 1 ? read_image_size(value) : NULL;
    if (size == NULL || !provenance(metadata, &human, &date, &job)) {
        Py_DECREF(boxes);
        Py_XDECREF(size);
        return read < 0 || PyErr_Occurred() ? -1 : 0;
    }
    PyObject *items[] = {size, boxes, human, date, job, attribute};
    PyObject *box_set = make(box_set_type, 6, items);
    Py_DECREF(size);
    Py_DECREF(boxes);
    if (box_set == NULL)
        return -1;
    int adjusted = PyDict_Contains(metadata, key_adjustment);
    PyObject *pair = adjusted < 0 ? NULL : PyTuple_Pack(2, box_set, adjusted ? Py_True : Py_False);
    Py_DECREF(box_set);
    if (pair == NULL)
        return -1;
    int appended = PyList_Append(box_sets, pair);
    Py_DECREF(pair);
    return appended < 0 ? -1 : 1;
}

/* One attribute pair: -1 error, 0 not clean, 1 read, 2 not a label attribute. */
static int
read_pair(PyObject *line, PyObject *name, PyObject *metadata, PyObject *labels,
          PyObject *box_sets)
{
    if (!PyUnicode_CheckExact(name) || PyUnicode_Tailmatch(name, suffix, 0, PY_SSIZE_T_MAX, 1) != 1 ||
        PyUnicode_Compare(name, cl_metadata) == 0)
        return PyErr_Occurred() ? -1 : 2;
    if (!PyDict_CheckExact(metadata) || field(metadata, key_failure) != NULL)
        return 0;
    PyObject *attribute =
        PyUnicode_Substring(name, 0, PyUnicode_GET_LENGTH(name) - SUFFIX_LENGTH);
    if (attribute == NULL)
        return -1;
    PyObject *value = field(line, attribute);
    PyObject *kind = field(metadata, key_type);
    int read = 0;
    if (value == NULL || kind == NULL || !PyUnicode_CheckExact(kind))
        read = 0;
    else if (PyUnicode_Compare(kind, classification) == 0)
        read = read_classification(value, metadata, attribute, labels);
    else if (PyUnicode_Compare(kind, detection) == 0)
        read = read_detection(value, metadata, attribute, box_sets);
    else if (PyUnicode_Compare(kind, multilabel) == 0)
        read = read_multilabel(value, metadata, attribute, labels);
    Py_DECREF(attribute);
    return PyErr_Occurred() ? -1 : read;
}

static PyObject *
read_clean(PyObject *module, PyObject *line)
{
    if (!PyDict_CheckExact(line)) {
        PyErr_SetString(PyExc_TypeError, "read_clean(line: dict)");
        return NULL;
    }
    PyObject *labels = PyList_New(0), *box_sets = PyList_New(0);
    Py_ssize_t position = 0;
    PyObject *name, *metadata;
    int read = labels != NULL && box_sets != NULL;
    while (read > 0 && PyDict_Next(line, &position, &name, &metadata))
        read = read_pair(line, name, metadata, labels, box_sets);
    PyObject *result = NULL;
    if (read > 0)
        result = PyTuple_Pack(2, labels, box_sets);
    else if (read == 0)
        result = Py_NewRef(Py_None);
    Py_XDECREF(labels);
    Py_XDECREF(box_sets);
    return result;
}

/* Whether ``text`` holds ``part`` (memmem is not everywhere). */
static int
holds(const char *text, Py_ssize_t length, const char *part, Py_ssize_t part_length)
{
    const char *end = text + length - part_length;
    for (const char *at = text; at <= end; at++) {
        at = memchr(at, part[0], end - at + 1);
        if (at == NULL)
            return 0;
        if (memcmp(at, part, part_length) == 0)
            return 1;
    }
    return 0;
}

/* groundtruth._leading_key: the source-ref of a line that starts the way Ground Truth writes
 * one (compact, source-ref first), with no backslash anywhere in the line, no second
 * "source-ref" after it, no '%' in it, and an s3:// reference with a bucket and an object key
 * of at most MAX_KEY_BYTES. Its length, *key set to its start; -1 for any other line (the
 * reader then parses it). */
static Py_ssize_t
find_leading_key(const char *text, Py_ssize_t length, const char **key)
{
    static const char start[] = "{\"source-ref\":\"", name[] = "\"source-ref\"";
    const Py_ssize_t start_length = sizeof(start) - 1, name_length = sizeof(name) - 1;
    if (length < start_length || memcmp(text, start, start_length) != 0 ||
        memchr(text, '\\', length) != NULL)
        return -1;
    *key = text + start_length;
    const char *end = memchr(*key, '"', length - start_length);
    if (end == NULL)
        return -1;
    Py_ssize_t key_length = end - *key, rest = length - (end - text);
    if (holds(end, rest, name, name_length) || memchr(*key, '%', key_length) != NULL ||
        key_length < 5 || memcmp(*key, "s3://", 5) != 0)
        return -1;
    const char *slash = memchr(*key + 5, '/', key_length - 5);
    if (slash == NULL || slash - *key <= 5 || slash - *key >= key_length - 1 ||
        key_length - (slash - *key) - 1 > max_key_bytes)
        return -1;
    return key_length;
}

static PyObject *
leading_key(PyObject *module, PyObject *line)
{
    const char *key;
    if (!PyBytes_Check(line)) {
        PyErr_SetString(PyExc_TypeError, "leading_key(line: bytes)");
        return NULL;
    }
    Py_ssize_t length = find_leading_key(PyBytes_AS_STRING(line), PyBytes_GET_SIZE(line), &key);
    if (length < 0)
        Py_RETURN_NONE;
    return PyBytes_FromStringAndSize(key, length);
}

/* Whether a line (its line break included) is blank as sources.read_lines counts runs of
 * them: spaces and tabs, then "\n" or "\r\n". */
static int
is_blank(const char *text, Py_ssize_t length)
{
    Py_ssize_t i = 0;
    while (i < length && (text[i] == ' ' || text[i] == '\t'))
        i++;
    return (i == length - 1 && text[i] == '\n') ||
           (i == length - 2 && text[i] == '\r' && text[i + 1] == '\n');
}

/* CRC-32 as zlib.crc32 computes it (spool.key_hash), without needing zlib's headers. */
static uint32_t crc_table[256];

static void
make_crc_table(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

static uint32_t
crc32_of(const char *text, Py_ssize_t length)
{
    uint32_t c = 0xFFFFFFFFu;
    for (Py_ssize_t i = 0; i < length; i++)
        c = crc_table[(c ^ (unsigned char)text[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* spool._spool_lines for the lines it spools as they are: see the method's doc. */
static PyObject *
spool_lines(PyObject *module, PyObject *args)
{
    Py_buffer block;
    long long number;
    Py_ssize_t max_bytes;
    PyObject *spools;
    if (!PyArg_ParseTuple(args, "y*LO!n:spool_lines", &block, &number, &PyList_Type, &spools,
                          &max_bytes))
        return NULL;
    Py_ssize_t count = PyList_GET_SIZE(spools);
    if (count == 0 || (count & (count - 1)) != 0) {
        PyBuffer_Release(&block);
        PyErr_SetString(PyExc_ValueError, "spool_lines needs a power of two of spools");
        return NULL;
    }
    const char *start = block.buf, *end = start + block.len, *at = start;
    long long first = number;
    int failed = 0;
    while (at < end) {
        const char *newline = memchr(at, '\n', (size_t)(end - at));
        if (newline == NULL)
            break;
        Py_ssize_t length = newline + 1 - at;
        const char *key;
        Py_ssize_t key_length;
        if (length > max_bytes || is_blank(at, length) ||
            (key_length = find_leading_key(at, length, &key)) < 0)
            break;
        /* zlib.crc32 of the key, as spool.key_hash */
        uint32_t hash = crc32_of(key, key_length);
        PyObject *spool = PyList_GET_ITEM(spools, (Py_ssize_t)(hash & (uint32_t)(count - 1)));
        char tag[25];
        int tag_length = digits(tag, 24, number, 1) + 1;
        tag[24] = '\t';
        Py_ssize_t size = PyByteArray_Check(spool) ? PyByteArray_GET_SIZE(spool) : -1;
        if (size < 0 || PyByteArray_Resize(spool, size + tag_length + length) < 0) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "spools are bytearrays");
            failed = 1;
            break;
        }
        char *to = PyByteArray_AS_STRING(spool) + size;
        memcpy(to, tag + sizeof(tag) - tag_length, (size_t)tag_length);
        memcpy(to + tag_length, at, (size_t)length);
        number++;
        at = newline + 1;
    }
    PyBuffer_Release(&block);
    if (failed)
        return NULL;
    return Py_BuildValue("nL", (Py_ssize_t)(at - start), number - first);
}

static PyMethodDef methods[] = {
    {"leading_key", leading_key, METH_O,
     "leading_key(line: bytes) -> bytes | None\n\n"
     "The image key of a line that starts as Ground Truth writes one, found without parsing\n"
     "it (gtmerge.readers.groundtruth._leading_key); None when the line must be parsed."},
    {"spool_lines", spool_lines, METH_VARARGS,
     "spool_lines(block, number, spools, max_bytes) -> (bytes used, lines spooled)\n\n"
     "Spool the lines at the start of ``block`` (line ``number`` on) as spool._spool_lines\n"
     "spools them: '<number>\\t<line>' appended to the spool of its key's CRC-32. It stops\n"
     "before the first line it leaves to Python (blank, over ``max_bytes``, without a key\n"
     "found as leading_key finds it) and before a line the block does not end."},
    {"read_clean", read_clean, METH_O,
     "read_clean(line: dict) -> tuple[list[Label], list[tuple[BoxSet, bool]]] | None\n\n"
     "The labels and (box set, is an adjustment) pairs of a line whose label attributes the\n"
     "Python reader reads with nothing dropped and no verdict; None for any other line."},
    {NULL, NULL, 0, NULL},
};

/* A positive whole number of gtmerge.rekognition; -1 with an error set otherwise. */
static Py_ssize_t
load_size(PyObject *rules, const char *name)
{
    PyObject *value = PyObject_GetAttrString(rules, name);
    if (value == NULL)
        return -1;
    Py_ssize_t size = PyLong_AsSsize_t(value);
    Py_DECREF(value);
    if (size <= 0 && !PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, "gtmerge.rekognition.%s must be positive", name);
    return size <= 0 ? -1 : size;
}

static int
load_model(void)
{
    PyObject *model = PyImport_ImportModule("gtmerge.model");
    PyObject *rules = PyImport_ImportModule("gtmerge.rekognition");
    int loaded =
        model != NULL && rules != NULL &&
        (label_type = (PyTypeObject *)PyObject_GetAttrString(model, "Label")) != NULL &&
        (box_type = (PyTypeObject *)PyObject_GetAttrString(model, "Box")) != NULL &&
        (box_set_type = (PyTypeObject *)PyObject_GetAttrString(model, "BoxSet")) != NULL &&
        (image_size_type = (PyTypeObject *)PyObject_GetAttrString(model, "ImageSize")) != NULL &&
        (classification = PyObject_GetAttrString(rules, "CLASSIFICATION")) != NULL &&
        (detection = PyObject_GetAttrString(rules, "DETECTION")) != NULL &&
        (multilabel = PyObject_GetAttrString(rules, "MULTILABEL")) != NULL &&
        (max_name_chars = load_size(rules, "MAX_LABEL_NAME_CHARS")) > 0 &&
        (max_key_bytes = load_size(rules, "MAX_KEY_BYTES")) > 0;
    Py_XDECREF(model);
    Py_XDECREF(rules);
    if (!loaded)
        return -1;
    PyTypeObject *types[] = {label_type, box_type, box_set_type, image_size_type};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (!PyType_Check(types[i]) || !PyType_IsSubtype(types[i], &PyTuple_Type)) {
            PyErr_SetString(PyExc_TypeError, "gtmerge.model's records must be named tuples");
            return -1;
        }
    return 0;
}

static int
intern_keys(void)
{
    struct {
        PyObject **slot;
        const char *text;
    } keys[] = {
        {&key_type, "type"},
        {&key_class_name, "class-name"},
        {&key_confidence, "confidence"},
        {&key_human, "human-annotated"},
        {&key_date, "creation-date"},
        {&key_job, "job-name"},
        {&key_image_size, "image_size"},
        {&key_width, "width"},
        {&key_height, "height"},
        {&key_depth, "depth"},
        {&key_annotations, "annotations"},
        {&key_objects, "objects"},
        {&key_class_map, "class-map"},
        {&key_confidence_map, "confidence-map"},
        {&key_class_id, "class_id"},
        {&key_left, "left"},
        {&key_top, "top"},
        {&key_failure, "failure-reason"},
        {&key_adjustment, "adjustment-status"},
        {&text_yes, "yes"},
        {&text_no, "no"},
        {&suffix, "-metadata"},
        {&cl_metadata, "cl-metadata"},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if ((*keys[i].slot = PyUnicode_InternFromString(keys[i].text)) == NULL)
            return -1;
    return (default_depth = PyLong_FromLong(3)) == NULL ? -1 : 0;
}

static struct PyModuleDef fastgt = {
    PyModuleDef_HEAD_INIT, "gtmerge.readers._fastgt",
    "The fast path of the Ground Truth reader for clean lines.", -1, methods,
};

PyMODINIT_FUNC
PyInit__fastgt(void)
{
    if (intern_keys() < 0 || load_model() < 0)
        return NULL;
    make_crc_table();
    return PyModule_Create(&fastgt);
}
