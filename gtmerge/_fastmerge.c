/* The merge of one spool partition (gtmerge.spool.merge_partition) for its common images.
 *
 * An ImageTable gathers the records of a partition per image, as gtmerge.merger.ImageMerger
 * does: duplicates found by the record's hash, an image given up past MAX_HELD. Raw Ground
 * Truth lines are read here when the reader's C fast path takes them (the key found without
 * parsing, orjson.loads, _fastgt.read_clean); any other line goes to a Python callback, which
 * reads and accounts for it as the Python path does and hands back its record, if any.
 *
 * finish() then writes, in first-appearance order, every image whose consolidation has
 * nothing to decide: no verdict, no adjustment, one answer per question (an empty selection
 * counts as one), every value one this file renders. For those, consolidation keeps every
 * answer whatever the policy: one label per class (its first human-annotated occurrence, or
 * its first), one box set per geometry; and the line is rendered here, byte for byte as
 * gtmerge.writer.ManifestFormat.render renders it through orjson (numbers are written by
 * orjson.dumps itself, cached per value). Any other image goes to a second Python callback,
 * which runs gtmerge.merger and gtmerge.consolidate over its records: this file decides
 * nothing a user sees, and tests/test_fastmerge.py compares whole merges with and without it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#include "_fastcommon.h"

#define SEEN_INLINE 4
/* Images with more distinct labels or box sets, or box sets with more boxes, go to Python:
 * the comparisons here are quadratic, Python's are hashed. */
#define MAX_FAST_LABELS 64
#define MAX_FAST_BOX_SETS 16
#define MAX_FAST_BLANK 16
#define MAX_FAST_BOXES 256
#define FLUSH_BYTES (1 << 16)
#define NUMBER_CACHE_BITS 10

/* Fields of gtmerge.model's named tuples. */
enum { LABEL_NAME, LABEL_CONFIDENCE, LABEL_HUMAN, LABEL_DATE, LABEL_JOB, LABEL_ATTRIBUTE };
enum { SET_SIZE, SET_BOXES, SET_HUMAN, SET_DATE, SET_JOB, SET_ATTRIBUTE };
enum { BOX_CLASS, BOX_LEFT, BOX_TOP, BOX_WIDTH, BOX_HEIGHT, BOX_CONFIDENCE };
enum { RECORD_KEY, RECORD_LABELS, RECORD_BOX_SETS, RECORD_SUPERSEDED, RECORD_BLANK,
       RECORD_VERDICTS };

static PyObject *key_source_ref;

typedef struct {
    PyObject *key;      /* str */
    PyObject *records;  /* list of ImageRecord; NULL once given up */
    PyObject *seen_set; /* the record hashes past the inline ones */
    Py_hash_t seen[SEEN_INLINE];
    Py_ssize_t held; /* records, labels and boxes held; -1 once given up */
    long long number;
    int part;
    int seen_count;
    int complex; /* Python consolidates it */
} Image;

typedef struct {
    uint64_t bits;
    PyObject *text; /* bytes */
} CachedNumber;

typedef struct {
    char *data;
    size_t length, capacity;
} Buffer;

typedef struct {
    PyObject_HEAD
    PyObject *index; /* key → slot in images */
    Image *images;
    Py_ssize_t count, capacity, max_held;
    PyObject *loads, *dumps, *read_clean, *leading_key, *make_record, *record_type;
    PyObject *label_counts, *box_counts; /* OutputStats' counters, updated in place */
    PyObject *answers;                   /* question → images with one answer to it */
    PyObject *label_prefix, *box_prefix; /* '"label' and '"bounding-box', escaped */
    PyObject *classification, *detection;
    long long images_written, unlabeled, box_sets_written;
    CachedNumber numbers[1 << NUMBER_CACHE_BITS];
    Buffer out;
} ImageTable;

/* ---------------------------------------------------------------- output buffer */

static int
reserve(Buffer *buffer, size_t more)
{
    if (buffer->length + more <= buffer->capacity)
        return 0;
    size_t capacity = buffer->capacity ? buffer->capacity : 4096;
    while (capacity < buffer->length + more)
        capacity *= 2;
    char *data = PyMem_Realloc(buffer->data, capacity);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    buffer->data = data;
    buffer->capacity = capacity;
    return 0;
}

static int
put(Buffer *buffer, const char *text, size_t length)
{
    if (reserve(buffer, length) < 0)
        return -1;
    memcpy(buffer->data + buffer->length, text, length);
    buffer->length += length;
    return 0;
}

#define PUT_LITERAL(buffer, text) put((buffer), (text), sizeof(text) - 1)

static int
put_bytes(Buffer *buffer, PyObject *bytes)
{
    return put(buffer, PyBytes_AS_STRING(bytes), (size_t)PyBytes_GET_SIZE(bytes));
}

static int
put_int(Buffer *buffer, long long number)
{
    char text[24];
    int length = digits(text, sizeof(text), number, 1);
    return put(buffer, text + sizeof(text) - length, (size_t)length);
}

/* A JSON string as orjson writes it: '"', '\\' and control characters escaped, the short
 * forms for \b \t \n \f \r, everything else (DEL and non-ASCII included) as UTF-8.
 * -1: error; 0: not a str this file writes (not exact, or not encodable); 1: written. */
static int
put_string(Buffer *buffer, PyObject *text)
{
    static const char hex[] = "0123456789abcdef";
    Py_ssize_t size;
    if (!PyUnicode_CheckExact(text))
        return 0;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &size);
    if (utf8 == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
            return -1;
        PyErr_Clear();
        return 0;
    }
    /* at most 6 bytes per input byte, and the quotes */
    if (reserve(buffer, (size_t)size * 6 + 2) < 0)
        return -1;
    char *to = buffer->data + buffer->length;
    *to++ = '"';
    for (Py_ssize_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char)utf8[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *to++ = (char)c;
            continue;
        }
        *to++ = '\\';
        switch (c) {
        case '"': *to++ = '"'; break;
        case '\\': *to++ = '\\'; break;
        case '\b': *to++ = 'b'; break;
        case '\t': *to++ = 't'; break;
        case '\n': *to++ = 'n'; break;
        case '\f': *to++ = 'f'; break;
        case '\r': *to++ = 'r'; break;
        default:
            memcpy(to, "u00", 3);
            to[3] = hex[c >> 4];
            to[4] = hex[c & 15];
            to += 5;
        }
    }
    *to++ = '"';
    buffer->length = (size_t)(to - buffer->data);
    return 1;
}

/* An int or float as orjson writes it: ints within 64 bits in decimal, floats by
 * orjson.dumps itself, cached by their bits. -1: error; 0: not a number written here. */
static int
put_number(ImageTable *table, PyObject *value)
{
    if (PyLong_CheckExact(value)) {
        int overflow;
        long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow)
            return 0; /* rare: orjson's own limits decide, in Python */
        if (number == -1 && PyErr_Occurred())
            return -1;
        return put_int(&table->out, number) < 0 ? -1 : 1;
    }
    if (!PyFloat_CheckExact(value))
        return 0;
    union {
        double number;
        uint64_t bits;
    } as = {PyFloat_AS_DOUBLE(value)};
    CachedNumber *slot =
        &table->numbers[(as.bits * 0x9E3779B97F4A7C15ULL) >> (64 - NUMBER_CACHE_BITS)];
    if (slot->text == NULL || slot->bits != as.bits) {
        PyObject *text = PyObject_CallOneArg(table->dumps, value);
        if (text == NULL)
            return -1;
        if (!PyBytes_Check(text)) {
            Py_DECREF(text);
            PyErr_SetString(PyExc_TypeError, "dumps must return bytes");
            return -1;
        }
        Py_XSETREF(slot->text, text);
        slot->bits = as.bits;
    }
    return put_bytes(&table->out, slot->text) < 0 ? -1 : 1;
}

/* ---------------------------------------------------------------- gathering records */

static int
equal(PyObject *a, PyObject *b)
{
    return a == b ? 1 : PyObject_RichCompareBool(a, b, Py_EQ);
}

/* The (attribute, job-name, creation-date) of one answer: borrowed. */
typedef struct {
    PyObject *attribute, *job, *date;
} Answer;

/* A label's or a box set's answer (both keep it at the same places). */
static Answer
answer_of(PyObject *item)
{
    Answer answer = {PyTuple_GET_ITEM(item, LABEL_ATTRIBUTE), PyTuple_GET_ITEM(item, LABEL_JOB),
                     PyTuple_GET_ITEM(item, LABEL_DATE)};
    return answer;
}

/* Whether two answers are the same (attribute, job-name, creation-date); -1: error. */
static int
same_triple(Answer a, Answer b)
{
    int same = equal(a.attribute, b.attribute);
    if (same == 1)
        same = equal(a.job, b.job);
    if (same == 1)
        same = equal(a.date, b.date);
    return same;
}

/* Whether two labels or box sets answer for the same question, job and date. */
static int
same_answer(PyObject *a, PyObject *b)
{
    return same_triple(answer_of(a), answer_of(b));
}

/* BoxSet.geometry equality: the image size and every box's class and coordinates. */
static int
same_geometry(PyObject *a, PyObject *b)
{
    int same = equal(PyTuple_GET_ITEM(a, SET_SIZE), PyTuple_GET_ITEM(b, SET_SIZE));
    PyObject *boxes_a = PyTuple_GET_ITEM(a, SET_BOXES), *boxes_b = PyTuple_GET_ITEM(b, SET_BOXES);
    if (same != 1 || PyTuple_GET_SIZE(boxes_a) != PyTuple_GET_SIZE(boxes_b))
        return same < 0 ? -1 : 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(boxes_a); i++)
        for (int f = BOX_CLASS; f <= BOX_HEIGHT; f++) {
            same = equal(PyTuple_GET_ITEM(PyTuple_GET_ITEM(boxes_a, i), f),
                         PyTuple_GET_ITEM(PyTuple_GET_ITEM(boxes_b, i), f));
            if (same != 1)
                return same;
        }
    return 1;
}

/* Whether ``item`` is already among ``items`` by answer and by ``same`` (a label's name or
 * a box set's geometry). -1: error. */
static int
among(PyObject *item, PyObject **items, int count, int (*same)(PyObject *, PyObject *))
{
    for (int i = 0; i < count; i++) {
        int found = same_answer(item, items[i]);
        if (found == 1)
            found = same(item, items[i]);
        if (found != 0)
            return found;
    }
    return 0;
}

static int
same_name(PyObject *a, PyObject *b)
{
    return equal(PyTuple_GET_ITEM(a, LABEL_NAME), PyTuple_GET_ITEM(b, LABEL_NAME));
}

/* 1 when no two of ``answers`` give different answers to one question (an attribute): the
 * consolidation's "one answer each" case. -1: error. */
static int
one_answer_each(Answer *answers, int count)
{
    for (int i = 1; i < count; i++)
        for (int j = 0; j < i; j++) {
            int question = equal(answers[i].attribute, answers[j].attribute);
            int same = question == 1 ? same_triple(answers[i], answers[j]) : question;
            if (same < 0)
                return -1;
            if (question == 1 && !same)
                return 0;
        }
    return 1;
}

static int
blank_among(PyObject *answer, PyObject **answers, int count)
{
    for (int i = 0; i < count; i++) {
        int found = equal(answer, answers[i]);
        if (found != 0)
            return found;
    }
    return 0;
}

static int
label_among(PyObject *label, PyObject **labels, int count)
{
    return among(label, labels, count, same_name);
}

static int
set_among(PyObject *set, PyObject **sets, int count)
{
    return among(set, sets, count, same_geometry);
}

/* Append to ``items`` each of ``given`` (a tuple) that ``known`` does not find among them:
 * 1, or 0 past ``most`` of them, -1 on error. */
static int
gather_new(PyObject *given, PyObject **items, int *count, int most,
           int (*known)(PyObject *, PyObject **, int))
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(given); i++) {
        PyObject *item = PyTuple_GET_ITEM(given, i);
        int found = known(item, items, *count);
        if (found != 0) {
            if (found < 0)
                return -1;
            continue;
        }
        if (*count == most)
            return 0;
        items[(*count)++] = item;
    }
    return 1;
}

/* Every label, box set and empty selection of the image's records, each (answer, class),
 * (answer, geometry) and answer once, in input order: ImageMerger's dictionaries. 0 when
 * there are too many for this file's quadratic comparisons. */
static int
gather(Image *image, PyObject **labels, int *label_count, PyObject **sets, int *set_count,
       PyObject **blank, int *blank_count)
{
    *label_count = *set_count = *blank_count = 0;
    for (Py_ssize_t r = 0; r < PyList_GET_SIZE(image->records); r++) {
        PyObject *record = PyList_GET_ITEM(image->records, r);
        PyObject *given = PyTuple_GET_ITEM(record, RECORD_BOX_SETS);
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(given); i++)
            if (PyTuple_GET_SIZE(PyTuple_GET_ITEM(PyTuple_GET_ITEM(given, i), SET_BOXES)) >
                MAX_FAST_BOXES)
                return 0;
        int done = gather_new(PyTuple_GET_ITEM(record, RECORD_BLANK), blank, blank_count,
                              MAX_FAST_BLANK, blank_among);
        if (done == 1)
            done = gather_new(PyTuple_GET_ITEM(record, RECORD_LABELS), labels, label_count,
                              MAX_FAST_LABELS, label_among);
        if (done == 1)
            done = gather_new(given, sets, set_count, MAX_FAST_BOX_SETS, set_among);
        if (done != 1)
            return done;
    }
    return 1;
}

/* ---------------------------------------------------------------- rendering */

static int
put_yes_no(Buffer *buffer, PyObject *flag)
{
    int yes = PyObject_IsTrue(flag);
    if (yes < 0)
        return -1;
    return yes ? PUT_LITERAL(buffer, "\"yes\"") : PUT_LITERAL(buffer, "\"no\"");
}

/* '"<prefix><index><suffix>":' */
static int
put_name(Buffer *buffer, PyObject *prefix, int index, const char *suffix)
{
    if (put_bytes(buffer, prefix) < 0 || put_int(buffer, index) < 0 ||
        put(buffer, suffix, strlen(suffix)) < 0)
        return -1;
    return PUT_LITERAL(buffer, "\":");
}

/* The ``"name":value`` members of one label; -1 error, 0 a value not written here, 1 done. */
static int
put_label(ImageTable *table, PyObject *label, int index)
{
    Buffer *out = &table->out;
    PyObject *job = PyTuple_GET_ITEM(label, LABEL_JOB);
    int done;
    if (PUT_LITERAL(out, ",") < 0 || put_name(out, table->label_prefix, index, "") < 0 ||
        put_int(out, index) < 0 || PUT_LITERAL(out, ",") < 0 ||
        put_name(out, table->label_prefix, index, "-metadata") < 0 ||
        PUT_LITERAL(out, "{\"confidence\":") < 0)
        return -1;
    if ((done = put_number(table, PyTuple_GET_ITEM(label, LABEL_CONFIDENCE))) != 1)
        return done;
    if (job != Py_None) {
        if (PUT_LITERAL(out, ",\"job-name\":") < 0)
            return -1;
        if ((done = put_string(out, job)) != 1)
            return done;
    }
    if (PUT_LITERAL(out, ",\"class-name\":") < 0)
        return -1;
    if ((done = put_string(out, PyTuple_GET_ITEM(label, LABEL_NAME))) != 1)
        return done;
    if (PUT_LITERAL(out, ",\"human-annotated\":") < 0 ||
        put_yes_no(out, PyTuple_GET_ITEM(label, LABEL_HUMAN)) < 0 ||
        PUT_LITERAL(out, ",\"creation-date\":") < 0)
        return -1;
    if ((done = put_string(out, PyTuple_GET_ITEM(label, LABEL_DATE))) != 1)
        return done;
    if (PUT_LITERAL(out, ",\"type\":") < 0 || put_bytes(out, table->classification) < 0 ||
        PUT_LITERAL(out, "}") < 0)
        return -1;
    return 1;
}

/* One box's class id: its class's place among the set's classes in order of appearance. */
static int
class_id(PyObject *boxes, Py_ssize_t at, PyObject **classes, int *class_count)
{
    PyObject *name = PyTuple_GET_ITEM(PyTuple_GET_ITEM(boxes, at), BOX_CLASS);
    for (int i = 0; i < *class_count; i++) {
        int same = equal(name, classes[i]);
        if (same != 0)
            return same < 0 ? -1 : i;
    }
    classes[*class_count] = name;
    return (*class_count)++;
}

static int
put_box_set(ImageTable *table, PyObject *set, int index)
{
    static const char *coordinates[] = {",\"top\":", ",\"left\":", ",\"width\":", ",\"height\":"};
    static const int fields[] = {BOX_TOP, BOX_LEFT, BOX_WIDTH, BOX_HEIGHT};
    static const char *sizes[] = {"{\"width\":", ",\"height\":", ",\"depth\":"};
    Buffer *out = &table->out;
    PyObject *classes[MAX_FAST_BOXES];
    int class_count = 0, done;
    PyObject *size = PyTuple_GET_ITEM(set, SET_SIZE), *boxes = PyTuple_GET_ITEM(set, SET_BOXES);
    if (PUT_LITERAL(out, ",") < 0 || put_name(out, table->box_prefix, index, "") < 0 ||
        PUT_LITERAL(out, "{\"image_size\":[") < 0)
        return -1;
    for (int f = 0; f < 3; f++) {
        if (put(out, sizes[f], strlen(sizes[f])) < 0)
            return -1;
        if ((done = put_number(table, PyTuple_GET_ITEM(size, f))) != 1)
            return done;
    }
    if (PUT_LITERAL(out, "}],\"annotations\":[") < 0)
        return -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(boxes); i++) {
        PyObject *box = PyTuple_GET_ITEM(boxes, i);
        int id = class_id(boxes, i, classes, &class_count);
        if (id < 0 || (i && PUT_LITERAL(out, ",") < 0) || PUT_LITERAL(out, "{\"class_id\":") < 0 ||
            put_int(out, id) < 0)
            return -1;
        for (int f = 0; f < 4; f++) {
            if (put(out, coordinates[f], strlen(coordinates[f])) < 0)
                return -1;
            if ((done = put_number(table, PyTuple_GET_ITEM(box, fields[f]))) != 1)
                return done;
        }
        if (PUT_LITERAL(out, "}") < 0)
            return -1;
    }
    if (PUT_LITERAL(out, "]},") < 0 || put_name(out, table->box_prefix, index, "-metadata") < 0 ||
        PUT_LITERAL(out, "{\"objects\":[") < 0)
        return -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(boxes); i++) {
        if ((i && PUT_LITERAL(out, ",") < 0) || PUT_LITERAL(out, "{\"confidence\":") < 0)
            return -1;
        if ((done = put_number(table, PyTuple_GET_ITEM(PyTuple_GET_ITEM(boxes, i),
                                                       BOX_CONFIDENCE))) != 1)
            return done;
        if (PUT_LITERAL(out, "}") < 0)
            return -1;
    }
    if (PUT_LITERAL(out, "],\"class-map\":{") < 0)
        return -1;
    for (int i = 0; i < class_count; i++) {
        char text[24];
        int length = snprintf(text, sizeof(text), "%s\"%d\":", i ? "," : "", i);
        if (put(out, text, (size_t)length) < 0)
            return -1;
        if ((done = put_string(out, classes[i])) != 1)
            return done;
    }
    if (PUT_LITERAL(out, "},\"type\":") < 0 || put_bytes(out, table->detection) < 0 ||
        PUT_LITERAL(out, ",\"human-annotated\":") < 0 ||
        put_yes_no(out, PyTuple_GET_ITEM(set, SET_HUMAN)) < 0 ||
        PUT_LITERAL(out, ",\"creation-date\":") < 0)
        return -1;
    if ((done = put_string(out, PyTuple_GET_ITEM(set, SET_DATE))) != 1)
        return done;
    PyObject *job = PyTuple_GET_ITEM(set, SET_JOB);
    if (job != Py_None) {
        if (PUT_LITERAL(out, ",\"job-name\":") < 0)
            return -1;
        if ((done = put_string(out, job)) != 1)
            return done;
    }
    return PUT_LITERAL(out, "}") < 0 ? -1 : 1;
}

static int
put_line(ImageTable *table, Image *image, PyObject **labels, int label_count, PyObject **sets,
         int set_count)
{
    /* the order key, as ingest.order_key writes it: "%06d%012d" */
    char order[18];
    if (image->part >= 1000000 || image->number >= 1000000000000LL)
        return 0; /* wider than the key's fields: Python's turn */
    digits(order, 6, image->part, 6);
    digits(order + 6, 12, image->number, 12);
    int done;
    if (put(&table->out, order, 18) < 0 ||
        PUT_LITERAL(&table->out, "{\"source-ref\":") < 0)
        return -1;
    if ((done = put_string(&table->out, image->key)) != 1)
        return done;
    for (int i = 0; i < label_count; i++)
        if ((done = put_label(table, labels[i], i)) != 1)
            return done;
    for (int i = 0; i < set_count; i++)
        if ((done = put_box_set(table, sets[i], i)) != 1)
            return done;
    return PUT_LITERAL(&table->out, "}\n") < 0 ? -1 : 1;
}

/* ---------------------------------------------------------------- counting */

/* One image answered each question of ``answers`` once (ConsolidationStats.saw_answers). */
static int
count_answers(ImageTable *table, Answer *answers, int count)
{
    for (int i = 0; i < count; i++) {
        int earlier = 0;
        for (int j = 0; j < i && !earlier; j++)
            if ((earlier = equal(answers[i].attribute, answers[j].attribute)) < 0)
                return -1;
        if (!earlier && count_one(table->answers, answers[i].attribute) < 0)
            return -1;
    }
    return 0;
}

/* OutputStats.count of the written image. */
static int
count_written(ImageTable *table, PyObject **labels, int label_count, PyObject **sets,
              int set_count)
{
    table->images_written++;
    table->unlabeled += label_count == 0 && set_count == 0;
    table->box_sets_written += set_count;
    for (int i = 0; i < label_count; i++)
        if (count_one(table->label_counts, PyTuple_GET_ITEM(labels[i], LABEL_NAME)) < 0)
            return -1;
    for (int i = 0; i < set_count; i++) {
        PyObject *boxes = PyTuple_GET_ITEM(sets[i], SET_BOXES);
        for (Py_ssize_t b = 0; b < PyTuple_GET_SIZE(boxes); b++)
            if (count_one(table->box_counts, PyTuple_GET_ITEM(PyTuple_GET_ITEM(boxes, b),
                                                             BOX_CLASS)) < 0)
                return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- one image */

/* One label per class: its first human-annotated occurrence, or its first, in order of
 * the class's first appearance (consolidate._first_of_each_class). */
static int
first_of_each_class(PyObject **labels, int count)
{
    int chosen = 0;
    for (int i = 0; i < count; i++) {
        int j = 0, same = 0;
        for (; j < chosen; j++)
            if ((same = same_name(labels[i], labels[j])) != 0)
                break;
        if (same < 0)
            return -1;
        if (!same) {
            labels[chosen++] = labels[i];
            continue;
        }
        int human = PyObject_IsTrue(PyTuple_GET_ITEM(labels[i], LABEL_HUMAN));
        int earlier = human == 1 ? PyObject_IsTrue(PyTuple_GET_ITEM(labels[j], LABEL_HUMAN)) : 1;
        if (human < 0 || earlier < 0)
            return -1;
        if (!earlier)
            labels[j] = labels[i];
    }
    return chosen;
}

/* One box set per geometry, the first (consolidate._distinct). */
static int
distinct(PyObject **sets, int count)
{
    int kept = 0;
    for (int i = 0; i < count; i++) {
        int same = 0;
        for (int j = 0; j < kept && !same; j++)
            if ((same = same_geometry(sets[i], sets[j])) < 0)
                return -1;
        if (!same)
            sets[kept++] = sets[i];
    }
    return kept;
}

/* The answers of ``items`` (labels or box sets) and of ``blank`` (answer keys): those of
 * the consolidation's "one answer each" check. */
static int
answers_of(PyObject **items, int count, PyObject **blank, int blank_count, Answer *answers)
{
    for (int i = 0; i < count; i++)
        answers[i] = answer_of(items[i]);
    for (int i = 0; i < blank_count; i++) {
        PyObject *key = blank[i];
        if (!PyTuple_Check(key) || PyTuple_GET_SIZE(key) != 3) {
            PyErr_SetString(PyExc_TypeError, "an answer key is (attribute, job, date)");
            return -1;
        }
        Answer answer = {PyTuple_GET_ITEM(key, 0), PyTuple_GET_ITEM(key, 1),
                         PyTuple_GET_ITEM(key, 2)};
        answers[count + i] = answer;
    }
    return count + blank_count;
}

/* Write an image with nothing to decide; 0 (and nothing written or counted) for any other. */
static int
finish_simple(ImageTable *table, Image *image)
{
    PyObject *labels[MAX_FAST_LABELS], *sets[MAX_FAST_BOX_SETS], *blank[MAX_FAST_BLANK];
    Answer label_answers[MAX_FAST_LABELS + MAX_FAST_BLANK], set_answers[MAX_FAST_BOX_SETS];
    int label_count, set_count, blank_count, done;
    if ((done = gather(image, labels, &label_count, sets, &set_count, blank, &blank_count)) != 1)
        return done;
    int answered = answers_of(labels, label_count, blank, blank_count, label_answers);
    if (answered < 0)
        return -1;
    answers_of(sets, set_count, NULL, 0, set_answers);
    if ((done = one_answer_each(label_answers, answered)) != 1 ||
        (done = one_answer_each(set_answers, set_count)) != 1)
        return done;
    size_t start = table->out.length;
    int written = first_of_each_class(labels, label_count);
    int kept = written < 0 ? -1 : distinct(sets, set_count);
    done = kept < 0 ? -1 : put_line(table, image, labels, written, sets, kept);
    if (done != 1) {
        table->out.length = start;
        return done;
    }
    if (count_answers(table, label_answers, answered) < 0 ||
        count_answers(table, set_answers, set_count) < 0 ||
        count_written(table, labels, written, sets, kept) < 0)
        return -1;
    return 1;
}

static void
free_image(Image *image)
{
    Py_CLEAR(image->key);
    Py_CLEAR(image->records);
    Py_CLEAR(image->seen_set);
}

/* ---------------------------------------------------------------- adding records */

static Image *
image_for(ImageTable *table, PyObject *key, int part, long long number)
{
    PyObject *slot = PyDict_GetItemWithError(table->index, key);
    if (slot != NULL)
        return &table->images[PyLong_AsSsize_t(slot)];
    if (PyErr_Occurred())
        return NULL;
    if (table->count == table->capacity) {
        Py_ssize_t capacity = table->capacity ? table->capacity * 2 : 1024;
        Image *images = PyMem_Realloc(table->images, (size_t)capacity * sizeof(Image));
        if (images == NULL)
            return (Image *)PyErr_NoMemory();
        table->images = images;
        table->capacity = capacity;
    }
    PyObject *records = PyList_New(0);
    slot = PyLong_FromSsize_t(table->count);
    if (records == NULL || slot == NULL || PyDict_SetItem(table->index, key, slot) < 0) {
        Py_XDECREF(records);
        Py_XDECREF(slot);
        return NULL;
    }
    Py_DECREF(slot);
    Image *image = &table->images[table->count++];
    memset(image, 0, sizeof(Image));
    image->key = Py_NewRef(key);
    image->records = records;
    image->part = part;
    image->number = number;
    return image;
}

/* Whether the image already holds a record of this hash. -1: error. */
static int
known(Image *image, Py_hash_t hash)
{
    for (int i = 0; i < image->seen_count; i++)
        if (image->seen[i] == hash)
            return 1;
    if (image->seen_set == NULL)
        return 0;
    PyObject *number = PyLong_FromSsize_t(hash);
    int found = number == NULL ? -1 : PySet_Contains(image->seen_set, number);
    Py_XDECREF(number);
    return found;
}

static int
remember(Image *image, Py_hash_t hash)
{
    if (image->seen_count < SEEN_INLINE) {
        image->seen[image->seen_count++] = hash;
        return 0;
    }
    if (image->seen_set == NULL && (image->seen_set = PySet_New(NULL)) == NULL)
        return -1;
    PyObject *number = PyLong_FromSsize_t(hash);
    int added = number == NULL ? -1 : PySet_Add(image->seen_set, number);
    Py_XDECREF(number);
    return added;
}

/* ImageMerger.add: 1 merged, 0 a duplicate, -1 error. */
static int
add(ImageTable *table, int part, long long number, PyObject *record)
{
    if (!PyObject_TypeCheck(record, (PyTypeObject *)table->record_type) ||
        PyTuple_GET_SIZE(record) != 6) {
        PyErr_SetString(PyExc_TypeError, "an ImageRecord is expected");
        return -1;
    }
    Image *image = image_for(table, PyTuple_GET_ITEM(record, RECORD_KEY), part, number);
    if (image == NULL)
        return -1;
    if (image->held < 0)
        return 1;
    Py_hash_t hash = PyObject_Hash(record);
    if (hash == -1)
        return -1;
    int found = known(image, hash);
    if (found != 0)
        return found < 0 ? -1 : 0;
    PyObject *labels = PyTuple_GET_ITEM(record, RECORD_LABELS);
    PyObject *sets = PyTuple_GET_ITEM(record, RECORD_BOX_SETS);
    Py_ssize_t held = 1 + PyTuple_GET_SIZE(labels);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(sets); i++)
        held += PyTuple_GET_SIZE(PyTuple_GET_ITEM(PyTuple_GET_ITEM(sets, i), SET_BOXES));
    image->held += held;
    if (image->held > table->max_held) { /* given up: what it held is freed */
        image->held = -1;
        Py_CLEAR(image->records);
        Py_CLEAR(image->seen_set);
        image->seen_count = 0;
        return 1;
    }
    if (remember(image, hash) < 0 || PyList_Append(image->records, record) < 0)
        return -1;
    /* adjustments and verdicts are for the Python merge to weigh */
    if (PyTuple_GET_SIZE(PyTuple_GET_ITEM(record, RECORD_SUPERSEDED)) ||
        PyTuple_GET_SIZE(PyTuple_GET_ITEM(record, RECORD_VERDICTS)))
        image->complex = 1;
    return 1;
}

/* The record of a line the reader's fast path takes, or None for any other line. */
static PyObject *
clean_record(ImageTable *table, PyObject *data)
{
    PyObject *key = PyObject_CallOneArg(table->leading_key, data);
    if (key == NULL || key == Py_None)
        return key;
    Py_DECREF(key);
    PyObject *line = PyObject_CallOneArg(table->loads, data);
    if (line == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_ValueError))
            return NULL;
        PyErr_Clear(); /* the Python reader rejects it, with the reason */
        Py_RETURN_NONE;
    }
    PyObject *ref = PyDict_CheckExact(line) ? PyDict_GetItemWithError(line, key_source_ref) : NULL;
    if (ref != NULL && !PyUnicode_CheckExact(ref))
        ref = NULL;
    PyObject *clean = PyErr_Occurred() ? NULL : ref == NULL ? Py_NewRef(Py_None) : PyObject_CallOneArg(table->read_clean, line);
    PyObject *record = NULL;
    if (clean == NULL || clean == Py_None) {
        record = clean;
        Py_DECREF(line);
        return record;
    }
    PyObject *labels = PyTuple_GET_ITEM(clean, 0), *pairs = PyTuple_GET_ITEM(clean, 1);
    int adjusted = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(pairs); i++)
        adjusted |= PyTuple_GET_ITEM(PyList_GET_ITEM(pairs, i), 1) == Py_True;
    if (adjusted) {
        record = PyObject_CallFunctionObjArgs(table->make_record, ref, labels, pairs, NULL);
    } else {
        /* ImageRecord(key, labels, box sets, (), (), ()), made as tuple.__new__ makes it */
        PyTypeObject *type = (PyTypeObject *)table->record_type;
        PyObject *sets = PyTuple_New(PyList_GET_SIZE(pairs));
        PyObject *label_tuple = PyList_AsTuple(labels);
        PyObject *empty = PyTuple_New(0);
        record = sets && label_tuple && empty ? type->tp_alloc(type, 6) : NULL;
        for (Py_ssize_t i = 0; sets && i < PyList_GET_SIZE(pairs); i++)
            PyTuple_SET_ITEM(sets, i, Py_NewRef(PyTuple_GET_ITEM(PyList_GET_ITEM(pairs, i), 0)));
        if (record != NULL) {
            PyObject *fields[] = {ref, label_tuple, sets, empty, empty, empty};
            for (int i = 0; i < 6; i++)
                PyTuple_SET_ITEM(record, i, Py_NewRef(fields[i]));
        }
        Py_XDECREF(empty);
        Py_XDECREF(label_tuple);
        Py_XDECREF(sets);
    }
    Py_DECREF(clean);
    Py_DECREF(line);
    return record;
}

/* ---------------------------------------------------------------- the type's methods */

static PyObject *
add_lines(ImageTable *table, PyObject *args)
{
    int part;
    Py_buffer chunk;
    PyObject *fallback;
    if (!PyArg_ParseTuple(args, "iy*O:add_lines", &part, &chunk, &fallback))
        return NULL;
    const char *start = chunk.buf, *end = start + chunk.len, *at = start;
    long long parsed = 0, duplicates = 0;
    int failed = 0;
    while (at < end && !failed) {
        const char *newline = memchr(at, '\n', (size_t)(end - at));
        if (newline == NULL)
            break;
        const char *tab = memchr(at, '\t', (size_t)(newline - at));
        long long number = 0;
        for (const char *digit = at; tab != NULL && digit < tab; digit++)
            number = number * 10 + (*digit - '0');
        if (tab == NULL || tab == at) {
            PyErr_SetString(PyExc_ValueError, "a spool line without its number");
            failed = 1;
            break;
        }
        PyObject *data = PyBytes_FromStringAndSize(tab + 1, newline - tab - 1);
        PyObject *record = data == NULL ? NULL : clean_record(table, data);
        if (record == Py_None) {
            Py_DECREF(record);
            record = PyObject_CallFunction(fallback, "LO", number, data);
        } else if (record != NULL) {
            parsed++;
        }
        Py_XDECREF(data);
        int merged = record == NULL ? -1 : record == Py_None ? 1 : add(table, part, number, record);
        Py_XDECREF(record);
        failed = merged < 0;
        duplicates += merged == 0;
        at = newline + 1;
    }
    PyBuffer_Release(&chunk);
    if (failed)
        return NULL;
    return Py_BuildValue("nLL", (Py_ssize_t)(at - start), parsed, duplicates);
}

static PyObject *
add_record(ImageTable *table, PyObject *args)
{
    int part;
    long long number;
    PyObject *record;
    if (!PyArg_ParseTuple(args, "iLO:add_record", &part, &number, &record))
        return NULL;
    int merged = add(table, part, number, record);
    return merged < 0 ? NULL : PyBool_FromLong(merged);
}

static int
flush(ImageTable *table, PyObject *write)
{
    if (table->out.length == 0)
        return 0;
    PyObject *text = PyBytes_FromStringAndSize(table->out.data, (Py_ssize_t)table->out.length);
    PyObject *done = text == NULL ? NULL : PyObject_CallOneArg(write, text);
    Py_XDECREF(text);
    Py_XDECREF(done);
    table->out.length = 0;
    return done == NULL ? -1 : 0;
}

static PyObject *
finish(ImageTable *table, PyObject *args)
{
    PyObject *write, *consolidate;
    if (!PyArg_ParseTuple(args, "OO:finish", &write, &consolidate))
        return NULL;
    int failed = 0;
    for (Py_ssize_t i = 0; i < table->count && !failed; i++) {
        Image *image = &table->images[i];
        int done = image->held < 0 || image->complex ? 0 : finish_simple(table, image);
        if (done == 0) {
            PyObject *records = image->records ? image->records : Py_None;
            failed = flush(table, write) < 0;
            PyObject *result =
                failed ? NULL
                       : PyObject_CallFunction(consolidate, "iLOO", image->part, image->number,
                                               image->key, records);
            failed = result == NULL;
            Py_XDECREF(result);
        } else if (done < 0) {
            failed = 1;
        } else if (table->out.length >= FLUSH_BYTES) {
            failed = flush(table, write) < 0;
        }
        free_image(image);
    }
    if (failed || flush(table, write) < 0)
        return NULL;
    table->count = 0;
    PyDict_Clear(table->index);
    return Py_BuildValue("LLL", table->images_written, table->unlabeled,
                         table->box_sets_written);
}

static int
init(ImageTable *table, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"loads", "dumps", "read_clean", "leading_key", "make_record",
                            "record_type", "label_counts", "box_counts", "label_prefix",
                            "box_prefix", "classification", "detection", "max_held", NULL};
    PyObject *given[12];
    if (!PyArg_ParseTupleAndKeywords(
            args, kwargs, "OOOOOOO!O!SSSSn:ImageTable", names, &given[0], &given[1], &given[2],
            &given[3], &given[4], &given[5], &PyDict_Type, &given[6], &PyDict_Type, &given[7],
            &given[8], &given[9], &given[10], &given[11], &table->max_held))
        return -1;
    PyObject **slots[] = {&table->loads,        &table->dumps,          &table->read_clean,
                          &table->leading_key,  &table->make_record,    &table->record_type,
                          &table->label_counts, &table->box_counts,     &table->label_prefix,
                          &table->box_prefix,   &table->classification, &table->detection};
    for (int i = 0; i < 12; i++)
        Py_XSETREF(*slots[i], Py_NewRef(given[i]));
    if (!PyType_Check(table->record_type) ||
        !PyType_IsSubtype((PyTypeObject *)table->record_type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "record_type must be a named tuple");
        return -1;
    }
    if (table->index == NULL && (table->index = PyDict_New()) == NULL)
        return -1;
    if (table->answers == NULL && (table->answers = PyDict_New()) == NULL)
        return -1;
    return 0;
}

static void
dealloc(ImageTable *table)
{
    for (Py_ssize_t i = 0; i < table->count; i++)
        free_image(&table->images[i]);
    PyMem_Free(table->images);
    PyMem_Free(table->out.data);
    for (size_t i = 0; i < sizeof(table->numbers) / sizeof(table->numbers[0]); i++)
        Py_XDECREF(table->numbers[i].text);
    PyObject *held[] = {table->index,        table->loads,          table->dumps,
                        table->read_clean,   table->leading_key,    table->make_record,
                        table->record_type,  table->label_counts,   table->box_counts,
                        table->answers,      table->label_prefix,   table->box_prefix,
                        table->classification, table->detection};
    for (size_t i = 0; i < sizeof(held) / sizeof(held[0]); i++)
        Py_XDECREF(held[i]);
    Py_TYPE(table)->tp_free((PyObject *)table);
}

static PyObject *
get_answers(ImageTable *table, void *closure)
{
    return Py_NewRef(table->answers);
}

/* ---------------------------------------------------------------- the final merge */

#define ORDER_WIDTH 18 /* gtmerge.ingest.ORDER_WIDTH */

/* One run file being merged: its current line, order key included. */
typedef struct {
    FILE *file;
    Buffer line;
} Run;

/* The run's next line into run->line; 1, 0 at its end, -1 on error (set). */
static int
next_line(Run *run, const char *path)
{
    Buffer *line = &run->line;
    line->length = 0;
    for (;;) {
        /* room for a few KiB more each time round: fgets stops there, and a long line grows
         * the buffer by doubling */
        if (reserve(line, line->capacity - line->length < 2 ? line->capacity + 2 : 2) < 0)
            return -1;
        char *at = line->data + line->length;
        if (fgets(at, (int)(line->capacity - line->length), run->file) == NULL) {
            if (ferror(run->file)) {
                PyErr_SetFromErrnoWithFilename(PyExc_OSError, path);
                return -1;
            }
            break;
        }
        /* rendered lines hold no NUL: JSON escapes it */
        line->length += strlen(at);
        if (line->data[line->length - 1] == '\n')
            break;
    }
    if (line->length && line->length < ORDER_WIDTH) {
        PyErr_Format(PyExc_ValueError, "%s: a line without its order key", path);
        return -1;
    }
    return line->length > 0;
}

/* Whether run a's line comes before run b's: by order key, then by run (heapq.merge's
 * order for equal keys). */
static int
before(Run *runs, int a, int b)
{
    int order = memcmp(runs[a].line.data, runs[b].line.data, ORDER_WIDTH);
    return order < 0 || (order == 0 && a < b);
}

static void
sift_down(Run *runs, int *heap, int count, int at)
{
    for (;;) {
        int smallest = at, left = 2 * at + 1, right = left + 1;
        if (left < count && before(runs, heap[left], heap[smallest]))
            smallest = left;
        if (right < count && before(runs, heap[right], heap[smallest]))
            smallest = right;
        if (smallest == at)
            return;
        int swap = heap[at];
        heap[at] = heap[smallest];
        heap[smallest] = swap;
        at = smallest;
    }
}

/* Hand a chunk of lines on: to ``write`` as one bytes, then to ``feed`` as a list. */
static int
hand_on(Buffer *out, size_t *ends, Py_ssize_t count, PyObject *write, PyObject *feed)
{
    PyObject *text = PyBytes_FromStringAndSize(out->data, (Py_ssize_t)out->length);
    PyObject *done = text ? PyObject_CallOneArg(write, text) : NULL;
    Py_XDECREF(text);
    Py_XDECREF(done);
    if (done == NULL)
        return -1;
    if (feed != Py_None) {
        PyObject *lines = PyList_New(count);
        for (Py_ssize_t i = 0; lines && i < count; i++) {
            size_t start = i ? ends[i - 1] : 0;
            PyObject *line = PyBytes_FromStringAndSize(out->data + start,
                                                       (Py_ssize_t)(ends[i] - start));
            if (line == NULL)
                Py_CLEAR(lines);
            else
                PyList_SET_ITEM(lines, i, line);
        }
        done = lines ? PyObject_CallOneArg(feed, lines) : NULL;
        Py_XDECREF(lines);
        Py_XDECREF(done);
        if (done == NULL)
            return -1;
    }
    out->length = 0;
    return 0;
}

/* The body of merge_runs once the runs are open. */
static int
merge_open_runs(Run *runs, int count, PyObject *paths, PyObject *write, PyObject *feed,
                PyObject *wanted, PyObject *numbers, Py_ssize_t chunk_lines, long long *written)
{
    int *heap = PyMem_Malloc(sizeof(int) * (size_t)(count ? count : 1));
    size_t *ends = PyMem_Malloc(sizeof(size_t) * (size_t)chunk_lines);
    Buffer out = {NULL, 0, 0};
    Py_ssize_t in_chunk = 0, next_wanted = 0;
    int heaped = 0, failed = heap == NULL || ends == NULL;
    if (failed)
        PyErr_NoMemory();
    for (int i = 0; !failed && i < count; i++) {
        int found = next_line(&runs[i], PyBytes_AS_STRING(PyList_GET_ITEM(paths, i)));
        failed = found < 0;
        if (found > 0)
            heap[heaped++] = i;
    }
    for (int i = heaped / 2 - 1; !failed && i >= 0; i--)
        sift_down(runs, heap, heaped, i);
    while (!failed && heaped) {
        Run *run = &runs[heap[0]];
        (*written)++;
        /* the wanted keys are sorted, as the lines come */
        while (next_wanted < PyList_GET_SIZE(wanted)) {
            PyObject *key = PyList_GET_ITEM(wanted, next_wanted);
            int order = memcmp(PyBytes_AS_STRING(key), run->line.data, ORDER_WIDTH);
            if (order > 0)
                break;
            next_wanted++;
            if (order == 0) {
                PyObject *number = PyLong_FromLongLong(*written);
                failed = number == NULL || PyDict_SetItem(numbers, key, number) < 0;
                Py_XDECREF(number);
            }
        }
        if (failed ||
            put(&out, run->line.data + ORDER_WIDTH, run->line.length - ORDER_WIDTH) < 0) {
            failed = 1;
            break;
        }
        ends[in_chunk++] = out.length;
        if (in_chunk == chunk_lines) {
            failed = hand_on(&out, ends, in_chunk, write, feed) < 0;
            in_chunk = 0;
        }
        int found = failed ? -1 : next_line(run, PyBytes_AS_STRING(PyList_GET_ITEM(paths, heap[0])));
        if (found < 0)
            failed = 1;
        else if (found == 0)
            heap[0] = heap[--heaped];
        sift_down(runs, heap, heaped, 0);
    }
    if (!failed && in_chunk)
        failed = hand_on(&out, ends, in_chunk, write, feed) < 0;
    PyMem_Free(heap);
    PyMem_Free(ends);
    PyMem_Free(out.data);
    return failed ? -1 : 0;
}

static PyObject *
merge_runs(PyObject *module, PyObject *args)
{
    PyObject *given, *write, *feed, *wanted;
    Py_ssize_t chunk_lines;
    if (!PyArg_ParseTuple(args, "O!OOO!n:merge_runs", &PyList_Type, &given, &write, &feed,
                          &PyList_Type, &wanted, &chunk_lines))
        return NULL;
    if (chunk_lines < 1) {
        PyErr_SetString(PyExc_ValueError, "chunk_lines must be positive");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(wanted); i++) {
        PyObject *key = PyList_GET_ITEM(wanted, i);
        if (!PyBytes_Check(key) || PyBytes_GET_SIZE(key) != ORDER_WIDTH) {
            PyErr_SetString(PyExc_TypeError, "wanted holds order keys (bytes)");
            return NULL;
        }
    }
    int count = (int)PyList_GET_SIZE(given);
    PyObject *paths = PyList_New(count);
    Run *runs = PyMem_Calloc((size_t)(count ? count : 1), sizeof(Run));
    PyObject *numbers = PyDict_New();
    int failed = paths == NULL || runs == NULL || numbers == NULL;
    if (runs == NULL)
        PyErr_NoMemory();
    for (int i = 0; !failed && i < count; i++) {
        PyObject *path = NULL;
        failed = !PyUnicode_FSConverter(PyList_GET_ITEM(given, i), &path);
        if (failed)
            break;
        PyList_SET_ITEM(paths, i, path);
        runs[i].file = fopen(PyBytes_AS_STRING(path), "rb");
        if (runs[i].file == NULL) {
            PyErr_SetFromErrnoWithFilename(PyExc_OSError, PyBytes_AS_STRING(path));
            failed = 1;
        } else {
            setvbuf(runs[i].file, NULL, _IOFBF, 1 << 16);
        }
    }
    long long written = 0;
    if (!failed)
        failed = merge_open_runs(runs, count, paths, write, feed, wanted, numbers, chunk_lines,
                                 &written) < 0;
    for (int i = 0; runs && i < count; i++) {
        if (runs[i].file)
            fclose(runs[i].file);
        PyMem_Free(runs[i].line.data);
    }
    PyMem_Free(runs);
    Py_XDECREF(paths);
    if (failed) {
        Py_XDECREF(numbers);
        return NULL;
    }
    PyObject *result = Py_BuildValue("LO", written, numbers);
    Py_DECREF(numbers);
    return result;
}

static PyMethodDef module_methods[] = {
    {"merge_runs", merge_runs, METH_VARARGS,
     "merge_runs(paths, write, feed, wanted, chunk_lines) -> (lines, numbers)\n\n"
     "finalmerge.write_runs in C: the lines of the run files in order key order, without\n"
     "their keys, handed to write (as one bytes) and feed (as a list, unless None)\n"
     "chunk_lines at a time; numbers maps each of the sorted order keys wanted that a line\n"
     "has to that line's number."},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef table_methods[] = {
    {"add_lines", (PyCFunction)add_lines, METH_VARARGS,
     "add_lines(part, chunk, fallback) -> (bytes used, lines read here, duplicates)"},
    {"add_record", (PyCFunction)add_record, METH_VARARGS,
     "add_record(part, number, record) -> False for a duplicate"},
    {"finish", (PyCFunction)finish, METH_VARARGS,
     "finish(write, consolidate) -> (images written, unlabeled, box sets)"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef table_getset[] = {
    {"answers", (getter)get_answers, NULL, "question -> images written with one answer to it",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject image_table_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "gtmerge._fastmerge.ImageTable",
    .tp_basicsize = sizeof(ImageTable),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The records of one spool partition, per image; see gtmerge/_fastmerge.c.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)init,
    .tp_dealloc = (destructor)dealloc,
    .tp_methods = table_methods,
    .tp_getset = table_getset,
};

static struct PyModuleDef fastmerge = {
    PyModuleDef_HEAD_INIT, "gtmerge._fastmerge",
    "The merge of a spool partition's common images, and the final merge of the runs.", -1,
    module_methods,
};

PyMODINIT_FUNC
PyInit__fastmerge(void)
{
    if ((key_source_ref = PyUnicode_InternFromString("source-ref")) == NULL ||
        PyType_Ready(&image_table_type) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&fastmerge);
    if (module == NULL)
        return NULL;
    if (PyModule_AddObjectRef(module, "ImageTable", (PyObject *)&image_table_type) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
