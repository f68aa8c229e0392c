/* The fast path of the line checks of gtmerge.validate.lines, for the most common lines.
 *
 * count_clean_labels(record, pairs, class_images, object_images) says whether every label
 * attribute of a parsed line is a classification or bounding-box attribute that the rules of
 * lines.py (check_pairs) accept with no finding at all, and if so counts the line's names as
 * lines.count_names does. It returns 0 for anything else, however harmless, and the Python
 * rules then check the line and find what to report: this file decides nothing a user sees,
 * it only spares a valid line the interpreter's cost per check.
 *
 * The limits and type strings come from gtmerge.rekognition. The creation-date check is the
 * one rule restated here (calling back into Python for it would cost more than all the rest);
 * tests/test_validate_lines.py checks that it agrees with rekognition.is_valid_creation_date
 * and that this path never accepts what the Python rules would report.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>

#include "../_fastcommon.h"

static PyObject *key_type, *key_class_name, *key_confidence, *key_human, *key_date, *key_job,
    *key_image_size, *key_width, *key_height, *key_depth, *key_annotations, *key_objects,
    *key_class_map, *key_class_id, *key_left, *key_top, *text_yes, *text_no;
static PyObject *classification, *detection;
/* "0" … "255": class-map keys of the usual class ids, made (and hashed) once */
#define CACHED_CLASS_IDS 256
static PyObject *class_id_texts[CACHED_CLASS_IDS];
static Py_ssize_t max_name_chars, max_boxes, max_labels;
/* What a line has, as gtmerge.validate.lines.CLASS_LABELS and BOX_LABELS say */
enum { class_labels = 1, box_labels = 2 };
static PyObject *loads, *key_source_ref;
static double scaled_max_side, min_box_pixels;

/* 1: clean, 0: not clean (the Python rules decide), -1: a Python exception is set. */
typedef int verdict;

/* human-annotated "yes" or "no", job-name a string if present, creation-date valid. The
 * labels of a line usually share one date, so the last valid one is remembered. */
static verdict
common_metadata(PyObject *metadata, PyObject **last_date)
{
    PyObject *human = field(metadata, key_human);
    if (human == NULL)
        return MISSING_OR_ERROR;
    if (!same_text(human, text_yes) && !same_text(human, text_no))
        return 0;
    PyObject *job = field(metadata, key_job);
    if (job == NULL && PyErr_Occurred())
        return -1;
    if (job != NULL && !PyUnicode_CheckExact(job))
        return 0;
    PyObject *date = field(metadata, key_date);
    if (date == NULL)
        return MISSING_OR_ERROR;
    if (*last_date != NULL && same_text(date, *last_date))
        return 1;
    if (!is_valid_date(date))
        return 0;
    *last_date = date;
    return 1;
}

static verdict
check_classification(PyObject *value, PyObject *metadata, PyObject **last_date,
                     PyObject *class_names)
{
    /* An integer, or a string of ASCII digits as Ground Truth's own examples write it. */
    if (PyUnicode_CheckExact(value)) {
        Py_ssize_t length = PyUnicode_GET_LENGTH(value);
        if (!PyUnicode_IS_ASCII(value) || length == 0)
            return 0;
        const char *digits = (const char *)PyUnicode_DATA(value);
        for (Py_ssize_t i = 0; i < length; i++)
            if (digits[i] < '0' || digits[i] > '9')
                return 0;
    }
    else if (!PyLong_CheckExact(value))
        return 0;
    PyObject *confidence = field(metadata, key_confidence);
    if (confidence == NULL)
        return MISSING_OR_ERROR;
    if (!is_confidence(confidence))
        return 0;
    PyObject *name = field(metadata, key_class_name);
    if (name == NULL)
        return MISSING_OR_ERROR;
    if (!is_name(name) || PyUnicode_GET_LENGTH(name) > max_name_chars)
        return 0;
    verdict common = common_metadata(metadata, last_date);
    if (common != 1)
        return common;
    return PyList_Append(class_names, name) < 0 ? -1 : 1;
}

/* One box: well formed, its class in the map, inside the image, and both sides above the
 * minimum once the image is scaled (``scale``) so that no side exceeds SCALED_MAX_SIDE. */
static verdict
check_box(PyObject *box, PyObject *object, PyObject *class_map, double width, double height,
          double scale, PyObject *object_names)
{
    double left, top, box_width, box_height;
    if (!PyDict_CheckExact(box) || !PyDict_CheckExact(object))
        return 0;
    PyObject *confidence = field(object, key_confidence);
    PyObject *class_id = confidence ? field(box, key_class_id) : NULL;
    PyObject *left_value = class_id ? field(box, key_left) : NULL;
    PyObject *top_value = left_value ? field(box, key_top) : NULL;
    PyObject *width_value = top_value ? field(box, key_width) : NULL;
    PyObject *height_value = width_value ? field(box, key_height) : NULL;
    if (height_value == NULL)
        return MISSING_OR_ERROR;
    if (!is_confidence(confidence) || !PyLong_CheckExact(class_id) ||
        !small_number(left_value, &left) || !small_number(top_value, &top) ||
        !small_number(width_value, &box_width) || !small_number(height_value, &box_height))
        return 0;
    if (left < 0 || top < 0 || box_width < 0 || box_height < 0 || left + box_width > width ||
        top + box_height > height || box_width * scale <= min_box_pixels ||
        box_height * scale <= min_box_pixels)
        return 0;
    int overflow;
    long long id = PyLong_AsLongLongAndOverflow(class_id, &overflow);
    PyObject *class_key = !overflow && id >= 0 && id < CACHED_CLASS_IDS
                              ? Py_NewRef(class_id_texts[id])
                              : PyObject_Str(class_id);
    if (class_key == NULL)
        return -1;
    PyObject *name = field(class_map, class_key);
    Py_DECREF(class_key);
    if (name == NULL)
        return MISSING_OR_ERROR;
    if (PyUnicode_GET_LENGTH(name) > max_name_chars)
        return 0;
    return PyList_Append(object_names, name) < 0 ? -1 : 1;
}

static verdict
check_detection(PyObject *value, PyObject *metadata, PyObject **last_date,
                PyObject *object_names)
{
    long long width, height, depth;
    if (!PyDict_CheckExact(value))
        return 0;
    PyObject *sizes = field(value, key_image_size);
    if (sizes == NULL)
        return MISSING_OR_ERROR;
    if (!PyList_CheckExact(sizes) || PyList_GET_SIZE(sizes) != 1)
        return 0;
    PyObject *size = PyList_GET_ITEM(sizes, 0);
    if (!PyDict_CheckExact(size))
        return 0;
    if (!positive_int(field(size, key_width), &width) ||
        !positive_int(field(size, key_height), &height) ||
        !positive_int(field(size, key_depth), &depth))
        return MISSING_OR_ERROR;
    PyObject *boxes = field(value, key_annotations);
    PyObject *objects = field(metadata, key_objects);
    PyObject *class_map = field(metadata, key_class_map);
    if (boxes == NULL || objects == NULL || class_map == NULL)
        return MISSING_OR_ERROR;
    /* an empty list (a warning) or too many boxes (an error) is for the Python rules */
    if (!PyList_CheckExact(boxes) || !PyList_CheckExact(objects) ||
        !PyDict_CheckExact(class_map) || PyList_GET_SIZE(boxes) == 0 ||
        PyList_GET_SIZE(boxes) > max_boxes ||
        PyList_GET_SIZE(objects) < PyList_GET_SIZE(boxes))
        return 0;
    Py_ssize_t position = 0;
    PyObject *class_key, *name;
    while (PyDict_Next(class_map, &position, &class_key, &name))
        if (!is_name(name))
            return 0;
    verdict common = common_metadata(metadata, last_date);
    if (common != 1)
        return common;
    long long longest = width > height ? width : height;
    double scale = longest > scaled_max_side ? scaled_max_side / (double)longest : 1.0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(boxes); i++) {
        verdict box = check_box(PyList_GET_ITEM(boxes, i), PyList_GET_ITEM(objects, i),
                                class_map, (double)width, (double)height, scale,
                                object_names);
        if (box != 1)
            return box;
    }
    return 1;
}

/* Add 1 to counts[name] for each distinct name of the list (the names of one line). */
static int
count_distinct(PyObject *names, PyObject *counts)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(names); i++) {
        PyObject *name = PyList_GET_ITEM(names, i);
        int repeated = 0;
        for (Py_ssize_t j = 0; j < i && !repeated; j++) {
            PyObject *earlier = PyList_GET_ITEM(names, j);
            repeated = earlier == name || PyUnicode_Compare(earlier, name) == 0;
        }
        if (!repeated && count_one(counts, name) < 0)
            return -1;
    }
    return 0;
}

/* The kinds of a clean line, its names counted (see count_clean_labels); 0: not clean. */
static long
clean_kinds(PyObject *record, PyObject *pairs, PyObject *class_images, PyObject *object_images)
{
    /* one pair of lists for every line, emptied after each: nothing here runs Python code
     * that could come back in (the keys are exact strings) */
    static PyObject *class_names, *object_names;
    if (class_names == NULL && (class_names = PyList_New(0)) == NULL)
        return -1;
    if (object_names == NULL && (object_names = PyList_New(0)) == NULL)
        return -1;
    PyObject *last_date = NULL;
    verdict result = PyTuple_GET_SIZE(pairs) > 0;
    for (Py_ssize_t i = 0; result == 1 && i < PyTuple_GET_SIZE(pairs); i++) {
        PyObject *pair = PyTuple_GET_ITEM(pairs, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "pairs holds (attribute, metadata key) tuples");
            result = -1;
            break;
        }
        PyObject *value = field(record, PyTuple_GET_ITEM(pair, 0));
        PyObject *metadata = value ? field(record, PyTuple_GET_ITEM(pair, 1)) : NULL;
        PyObject *kind = metadata && PyDict_CheckExact(metadata) ? field(metadata, key_type)
                                                                  : NULL;
        if (kind == NULL)
            result = MISSING_OR_ERROR;
        else if (same_text(kind, classification))
            result = check_classification(value, metadata, &last_date, class_names);
        else if (same_text(kind, detection))
            result = check_detection(value, metadata, &last_date, object_names);
        else
            result = 0;
    }
    /* over the per-image limit, distinct names decide: the Python rules count them */
    if (result == 1 &&
        PyList_GET_SIZE(class_names) + PyList_GET_SIZE(object_names) > max_labels)
        result = 0;
    long kinds = 0;
    if (result == 1) {
        kinds = (PyList_GET_SIZE(class_names) ? class_labels : 0) |
                (PyList_GET_SIZE(object_names) ? box_labels : 0);
        if (count_distinct(class_names, class_images) < 0 ||
            count_distinct(object_names, object_images) < 0)
            result = -1;
    }
    if (PyList_SetSlice(class_names, 0, PY_SSIZE_T_MAX, NULL) < 0 ||
        PyList_SetSlice(object_names, 0, PY_SSIZE_T_MAX, NULL) < 0)
        return -1;
    return result < 0 ? -1 : kinds;
}

static PyObject *
count_clean_labels(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyDict_Check(args[0]) || !PyTuple_Check(args[1]) ||
        !PyDict_Check(args[2]) || !PyDict_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "count_clean_labels(record: dict, pairs: tuple, class_images: dict, "
                        "object_images: dict)");
        return NULL;
    }
    long kinds = clean_kinds(args[0], args[1], args[2], args[3]);
    return kinds < 0 ? NULL : PyLong_FromLong(kinds);
}

/* str.isprintable() */
static int
is_printable(PyObject *text)
{
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    if (PyUnicode_IS_ASCII(text)) {
        const unsigned char *chars = PyUnicode_1BYTE_DATA(text);
        for (Py_ssize_t i = 0; i < length; i++)
            if (chars[i] < 0x20 || chars[i] == 0x7f)
                return 0;
        return 1;
    }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    for (Py_ssize_t i = 0; i < length; i++)
        if (!Py_UNICODE_ISPRINTABLE(PyUnicode_READ(kind, data, i)))
            return 0;
    return 1;
}

/* The source-ref test of ManifestValidator.feed for a line in the last bucket seen. */
static int
in_bucket(PyObject *ref, PyObject *prefix, Py_ssize_t longest)
{
    if (ref == NULL || !PyUnicode_CheckExact(ref) || !PyUnicode_CheckExact(prefix))
        return 0;
    Py_ssize_t length = PyUnicode_GET_LENGTH(ref);
    if (length <= PyUnicode_GET_LENGTH(prefix) || length > longest)
        return 0;
    Py_ssize_t starts = PyUnicode_Tailmatch(ref, prefix, 0, PyUnicode_GET_LENGTH(prefix), -1);
    return starts == 1 ? is_printable(ref) : (int)starts;
}

/* The last line's keys and their pairs: the lines of a manifest share a few key sequences,
 * and orjson gives the same (cached) key objects to every line, so most lines are matched
 * by comparing pointers, without building the tuple ``pairing`` is keyed by. */
static PyObject *last_keys, *last_pairs;

/* The pairs ``pairing`` (lines.line_pairs' cache) holds for the keys of ``record``
 * (borrowed), or NULL (and no error) when it holds none: the Python checks find them. */
static PyObject *
known_pairs(PyObject *record, PyObject *pairing)
{
    Py_ssize_t position = 0, i = 0;
    PyObject *key, *value;
    if (last_keys != NULL && PyTuple_GET_SIZE(last_keys) == PyDict_GET_SIZE(record)) {
        while (PyDict_Next(record, &position, &key, &value) &&
               key == PyTuple_GET_ITEM(last_keys, i))
            i++;
        if (i == PyTuple_GET_SIZE(last_keys))
            return last_pairs;
    }
    PyObject *keys = PyDict_Keys(record);
    PyObject *order = keys ? PyList_AsTuple(keys) : NULL;
    PyObject *pairs = order ? PyDict_GetItemWithError(pairing, order) : NULL;
    Py_XDECREF(keys);
    if (pairs == NULL || !PyTuple_Check(pairs)) {
        Py_XDECREF(order);
        return NULL;
    }
    Py_XSETREF(last_keys, order);
    Py_XSETREF(last_pairs, Py_NewRef(pairs));
    return pairs;
}

/* One line of feed_lines: its kinds (> 0) when it is clean and counted; 0 when it is not,
 * with *parsed set to the parsed line (NULL when the line did not parse); -1 on error. */
static long
feed_one(PyObject *raw, PyObject *const *args, Py_ssize_t longest, Py_ssize_t number,
         PyObject **parsed)
{
    *parsed = NULL;
    PyObject *record = PyObject_CallOneArg(loads, raw);
    if (record == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_ValueError))
            return -1;
        PyErr_Clear(); /* the Python checks parse it again, for the message */
        return 0;
    }
    PyObject *ref = PyDict_CheckExact(record) ? field(record, key_source_ref) : NULL;
    int usable = ref == NULL ? MISSING_OR_ERROR : in_bucket(ref, args[2], longest);
    if (usable == 1 && args[7] != Py_None) {
        PyObject *line = PyLong_FromSsize_t(number);
        PyObject *first = line ? PyDict_SetDefault(args[7], ref, line) : NULL;
        usable = first == NULL ? -1 : first == line;
        Py_XDECREF(line);
    }
    PyObject *pairs = usable == 1 ? known_pairs(record, args[4]) : NULL;
    if (usable == 1)
        usable = pairs != NULL ? 1 : MISSING_OR_ERROR;
    long kinds = usable == 1 ? clean_kinds(record, pairs, args[5], args[6]) : usable;
    if (kinds == 0)
        *parsed = record;
    else
        Py_DECREF(record);
    return kinds;
}

static PyObject *
feed_lines(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t start, longest, line, max_lines, max_chars;
    if (nargs != 12 || !PyList_CheckExact(args[0]) || !PyDict_Check(args[4]) ||
        !PyDict_Check(args[5]) || !PyDict_Check(args[6]) ||
        (args[7] != Py_None && !PyDict_Check(args[7])) ||
        (args[8] != Py_None && !PySet_Check(args[8])) ||
        (start = PyLong_AsSsize_t(args[1])) == -1 || (longest = PyLong_AsSsize_t(args[3])) == -1 ||
        (line = PyLong_AsSsize_t(args[9])) == -1 || (max_lines = PyLong_AsSsize_t(args[10])) == -1 ||
        (max_chars = PyLong_AsSsize_t(args[11])) == -1) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError,
                            "feed_lines(lines: list, start, prefix, longest, pairing, "
                            "class_images, object_images, first_lines, boxed_lines, line, "
                            "max_lines, max_chars)");
        return NULL;
    }
    Py_ssize_t done = 0, bytes = 0, class_lines = 0, object_lines = 0;
    PyObject *parsed = NULL;
    for (Py_ssize_t i = start; i < PyList_GET_SIZE(args[0]); i++) {
        PyObject *raw = PyList_GET_ITEM(args[0], i);
        Py_ssize_t number = line + done + 1;
        if (!PyBytes_CheckExact(raw) || number > max_lines || PyBytes_GET_SIZE(raw) > max_chars)
            break;
        long kinds = feed_one(raw, args, longest, number, &parsed);
        if (kinds < 0)
            return NULL;
        if (kinds == 0)
            break;
        Py_ssize_t size = PyBytes_GET_SIZE(raw);
        bytes += size && PyBytes_AS_STRING(raw)[size - 1] == '\n' ? size : size + 1;
        class_lines += (kinds & class_labels) != 0;
        object_lines += (kinds & box_labels) != 0;
        if ((kinds & box_labels) && args[8] != Py_None) {
            PyObject *boxed = PyLong_FromSsize_t(number);
            int added = boxed ? PySet_Add(args[8], boxed) : -1;
            Py_XDECREF(boxed);
            if (added < 0)
                return NULL;
        }
        done++;
    }
    PyObject *result = Py_BuildValue("nnnnO", done, bytes, class_lines, object_lines,
                                     parsed ? parsed : Py_None);
    Py_XDECREF(parsed);
    return result;
}

static PyMethodDef methods[] = {
    {"count_clean_labels", (PyCFunction)(void (*)(void))count_clean_labels, METH_FASTCALL,
     "count_clean_labels(record, pairs, class_images, object_images) -> int\n\n"
     "For a line whose label attributes all pass with no finding: count its names as\n"
     "gtmerge.validate.lines.count_names does and return the same kinds; 0, counting\n"
     "nothing, when the rule-by-rule checks must look at the line."},
    {"feed_lines", (PyCFunction)(void (*)(void))feed_lines, METH_FASTCALL,
     "feed_lines(lines, start, prefix, longest, pairing, class_images, object_images, "
     "first_lines, boxed_lines, line, max_lines, max_chars)\n"
     "-> (lines done, their bytes, with class labels, with boxes, parsed)\n\n"
     "ManifestValidator.feed_lines' common case: from lines[start] on, the lines numbered\n"
     "line + 1 on that parse, whose source-ref is in the bucket ``prefix`` names (and new to\n"
     "``first_lines``, unless None), whose keys ``pairing`` knows and that\n"
     "count_clean_labels takes are counted, their boxed line numbers added to\n"
     "``boxed_lines`` (unless None). It stops before the first other line, a line past\n"
     "``max_lines`` or longer than ``max_chars`` bytes; ``parsed`` is that line parsed, or\n"
     "None when it did not parse or was not parsed."},
    {NULL, NULL, 0, NULL},
};

static int
load_number(PyObject *rules, const char *name, double *out)
{
    PyObject *value = PyObject_GetAttrString(rules, name);
    if (value == NULL)
        return -1;
    *out = PyFloat_AsDouble(value);
    Py_DECREF(value);
    return *out == -1.0 && PyErr_Occurred() ? -1 : 0;
}

static int
load_rules(void)
{
    double name_chars, boxes, labels;
    PyObject *rules = PyImport_ImportModule("gtmerge.rekognition");
    PyObject *codec = PyImport_ImportModule("orjson");
    loads = codec ? PyObject_GetAttrString(codec, "loads") : NULL;
    Py_XDECREF(codec);
    if (rules == NULL || loads == NULL)
        return -1;
    int loaded = load_number(rules, "MAX_LABEL_NAME_CHARS", &name_chars) == 0 &&
                 load_number(rules, "MAX_BOXES_PER_IMAGE", &boxes) == 0 &&
                 load_number(rules, "MAX_LABELS_PER_IMAGE", &labels) == 0 &&
                 load_number(rules, "SCALED_MAX_SIDE", &scaled_max_side) == 0 &&
                 load_number(rules, "MIN_BOX_PIXELS", &min_box_pixels) == 0 &&
                 (classification = PyObject_GetAttrString(rules, "CLASSIFICATION")) != NULL &&
                 (detection = PyObject_GetAttrString(rules, "DETECTION")) != NULL;
    Py_DECREF(rules);
    max_name_chars = (Py_ssize_t)name_chars;
    max_boxes = (Py_ssize_t)boxes;
    max_labels = (Py_ssize_t)labels;
    return loaded ? 0 : -1;
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
        {&key_class_id, "class_id"},
        {&key_left, "left"},
        {&key_top, "top"},
        {&text_yes, "yes"},
        {&text_no, "no"},
        {&key_source_ref, "source-ref"},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if ((*keys[i].slot = PyUnicode_InternFromString(keys[i].text)) == NULL)
            return -1;
    for (int id = 0; id < CACHED_CLASS_IDS; id++) {
        class_id_texts[id] = PyUnicode_FromFormat("%d", id);
        if (class_id_texts[id] == NULL || PyObject_Hash(class_id_texts[id]) == -1)
            return -1;
    }
    return 0;
}

static struct PyModuleDef fastlines = {
    PyModuleDef_HEAD_INIT, "gtmerge.validate._fastlines",
    "The fast path of the line checks of gtmerge.validate.lines for valid lines.", -1, methods,
};

PyMODINIT_FUNC
PyInit__fastlines(void)
{
    if (intern_keys() < 0 || load_rules() < 0)
        return NULL;
    return PyModule_Create(&fastlines);
}
