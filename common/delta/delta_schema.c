/*
 * delta_schema: Spark's StructType JSON in and out, and the simple column
 * list format of the files in conf/tables/.  Nested types are kept as trees so
 * that readers can rebuild nested values and writers can compare schemas.
 */
#include "delta/delta.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "text/json.h"

#define SCHEMA_FILE_MAX (1 << 20)

static const struct {
	const char *name;
	int type;
} primitive_names[] = {
    {"string", DT_STRING}, {"long", DT_LONG},           {"integer", DT_INTEGER},
    {"short", DT_SHORT},   {"byte", DT_BYTE},           {"float", DT_FLOAT},
    {"double", DT_DOUBLE}, {"boolean", DT_BOOLEAN},     {"binary", DT_BINARY},
    {"date", DT_DATE},     {"timestamp", DT_TIMESTAMP}, {"timestamp_ntz", DT_TIMESTAMP_NTZ},
    {"void", DT_VOID},
};

int delta_type_is_primitive(int type)
{
	return type != DT_STRUCT && type != DT_ARRAY && type != DT_MAP;
}

static void delta_field_free(struct delta_field *f)
{
	free(f->name);
	free(f->metadata_json);
	for (size_t i = 0; i < f->nchildren; i++)
		delta_field_free(&f->children[i]);
	free(f->children);
}

void delta_schema_free(struct delta_schema *s)
{
	for (size_t i = 0; i < s->n; i++)
		delta_field_free(&s->fields[i]);
	free(s->fields);
	s->fields = NULL;
	s->n = 0;
}

/* "decimal(p,s)" or a primitive name -> type; -1 if unknown. */
static int delta_parse_primitive(const char *s, int *precision, int *scale)
{
	for (size_t i = 0; i < sizeof primitive_names / sizeof primitive_names[0]; i++)
		if (strcmp(s, primitive_names[i].name) == 0)
			return primitive_names[i].type;
	int p, sc, n = 0;
	if (sscanf(s, "decimal(%d,%d)%n", &p, &sc, &n) == 2 && s[n] == '\0' && p >= 1 && p <= 38 &&
	    sc >= 0 && sc <= p) {
		*precision = p;
		*scale = sc;
		return DT_DECIMAL;
	}
	if (strcmp(s, "decimal") == 0) {
		/* Spark's default decimal. */
		*precision = 10;
		*scale = 0;
		return DT_DECIMAL;
	}
	return -1;
}

static int delta_parse_type(const struct json *t, struct delta_field *f, const char *where,
                            struct err_msg *e);

static int delta_parse_field(const struct json *j, struct delta_field *f, const char *where,
                             struct err_msg *e)
{
	memset(f, 0, sizeof *f);
	const char *name = json_str(json_get(j, "name"));
	if (!name) {
		err_set(e, EX_DATAERR, "schema: a field in %s has no name", where);
		return -1;
	}
	f->name = strdup(name);
	int nullable = json_bool(json_get(j, "nullable"));
	f->nullable = nullable < 0 ? 1 : nullable;
	const struct json *md = json_get(j, "metadata");
	struct buf b = BUF_INIT;
	if (md && json_type(md) == JSON_OBJECT)
		json_print(md, &b);
	else
		buf_puts(&b, "{}");
	f->metadata_json = buf_detach(&b);
	if (!f->name || !f->metadata_json) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	return delta_parse_type(json_get(j, "type"), f, f->name, e);
}

static int delta_parse_type(const struct json *t, struct delta_field *f, const char *where,
                            struct err_msg *e)
{
	if (json_type(t) == JSON_STRING) {
		f->type = delta_parse_primitive(json_str(t), &f->precision, &f->scale);
		if (f->type < 0) {
			err_set(e, EX_DATAERR, "schema: field \"%s\": unknown type \"%s\"", where,
			        json_str(t));
			return -1;
		}
		return 0;
	}
	const char *kind = json_str(json_get(t, "type"));
	if (!kind) {
		err_set(e, EX_DATAERR, "schema: field \"%s\": type is neither a name nor an object",
		        where);
		return -1;
	}
	if (strcmp(kind, "struct") == 0) {
		const struct json *fields = json_get(t, "fields");
		if (json_type(fields) != JSON_ARRAY) {
			err_set(e, EX_DATAERR, "schema: struct \"%s\" has no fields array", where);
			return -1;
		}
		f->type = DT_STRUCT;
		f->nchildren = json_size(fields);
		f->children = calloc(f->nchildren ? f->nchildren : 1, sizeof *f->children);
		if (!f->children) {
			f->nchildren = 0;
			err_set(e, EX_SOFTWARE, "out of memory");
			return -1;
		}
		size_t i = 0;
		for (const struct json *c = json_first(fields); c; c = json_next(c), i++)
			if (delta_parse_field(c, &f->children[i], where, e) < 0)
				return -1;
		return 0;
	}
	if (strcmp(kind, "array") == 0 || strcmp(kind, "map") == 0) {
		int is_map = kind[0] == 'm';
		f->type = is_map ? DT_MAP : DT_ARRAY;
		f->nchildren = is_map ? 2 : 1;
		f->children = calloc(f->nchildren, sizeof *f->children);
		if (!f->children) {
			f->nchildren = 0;
			err_set(e, EX_SOFTWARE, "out of memory");
			return -1;
		}
		const char *names[2] = {is_map ? "key" : "element", "value"};
		const char *keys[2] = {is_map ? "keyType" : "elementType", "valueType"};
		for (size_t i = 0; i < f->nchildren; i++) {
			struct delta_field *c = &f->children[i];
			c->name = strdup(names[i]);
			c->metadata_json = strdup("{}");
			if (!c->name || !c->metadata_json) {
				err_set(e, EX_SOFTWARE, "out of memory");
				return -1;
			}
			const char *nk = is_map ? (i ? "valueContainsNull" : NULL) : "containsNull";
			c->nullable = nk ? json_bool(json_get(t, nk)) != 0 : 0;
			if (delta_parse_type(json_get(t, keys[i]), c, where, e) < 0)
				return -1;
		}
		return 0;
	}
	err_set(e, EX_DATAERR, "schema: field \"%s\": unknown type \"%s\"", where, kind);
	return -1;
}

int delta_schema_parse_json(const char *text, size_t len, struct delta_schema *s, struct err_msg *e)
{
	memset(s, 0, sizeof *s);
	struct json *j = json_parse(text, len, e);
	if (!j)
		return -1;
	int rc = -1;
	const struct json *fields = json_get(j, "fields");
	const char *kind = json_str(json_get(j, "type"));
	if (!kind || strcmp(kind, "struct") != 0 || json_type(fields) != JSON_ARRAY) {
		err_set(e, EX_DATAERR, "schema: expected {\"type\":\"struct\",\"fields\":[...]}");
		goto out;
	}
	s->n = json_size(fields);
	s->fields = calloc(s->n ? s->n : 1, sizeof *s->fields);
	if (!s->fields) {
		s->n = 0;
		err_set(e, EX_SOFTWARE, "out of memory");
		goto out;
	}
	size_t i = 0;
	for (const struct json *c = json_first(fields); c; c = json_next(c), i++)
		if (delta_parse_field(c, &s->fields[i], "the schema", e) < 0)
			goto out;
	for (size_t a = 0; a < s->n; a++)
		for (size_t b = a + 1; b < s->n; b++)
			if (strcasecmp(s->fields[a].name, s->fields[b].name) == 0) {
				err_set(
				    e, EX_DATAERR,
				    "schema: column names \"%s\" and \"%s\" differ only in case "
				    "or repeat",
				    s->fields[a].name, s->fields[b].name);
				goto out;
			}
	rc = 0;
out:
	json_free(j);
	if (rc < 0)
		delta_schema_free(s);
	return rc;
}

static int delta_valid_column_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return 0;
	return 1;
}

/* The column list format. */
static int delta_schema_parse_list(const char *path, char *text, struct delta_schema *s,
                                   struct err_msg *e)
{
	size_t cap = 0;
	int line = 0;
	char *save = NULL;
	memset(s, 0, sizeof *s);
	for (char *l = text; l; l = save) {
		char *nl = strchr(l, '\n');
		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		line++;
		char *hash = strchr(l, '#');
		if (hash)
			*hash = '\0';
		char *tok[5];
		int nt = 0;
		for (char *t = strtok(l, " \t\r"); t; t = strtok(NULL, " \t\r")) {
			if (nt == 5)
				break;
			tok[nt++] = t;
		}
		if (nt == 0)
			continue;
		int notnull = 0;
		if (nt == 4 && strcasecmp(tok[2], "not") == 0 && strcasecmp(tok[3], "null") == 0)
			notnull = 1;
		else if (nt != 2) {
			err_set(e, EX_DATAERR,
			        "%s:%d: expected \"name type\" or \"name type not null\"", path,
			        line);
			goto fail;
		}
		if (!delta_valid_column_name(tok[0])) {
			err_set(e, EX_DATAERR,
			        "%s:%d: column name \"%s\": expected letters, digits and '_'", path,
			        line, tok[0]);
			goto fail;
		}
		char typ[64];
		snprintf(typ, sizeof typ, "%s", tok[1]);
		for (char *c = typ; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		const char *alias = strcmp(typ, "bigint") == 0     ? "long"
		                    : strcmp(typ, "int") == 0      ? "integer"
		                    : strcmp(typ, "smallint") == 0 ? "short"
		                    : strcmp(typ, "tinyint") == 0  ? "byte"
		                    : strcmp(typ, "bool") == 0     ? "boolean"
		                                                   : typ;
		struct delta_field f = {0};
		f.type = delta_parse_primitive(alias, &f.precision, &f.scale);
		if (f.type < 0 || f.type == DT_VOID) {
			err_set(
			    e, EX_DATAERR,
			    "%s:%d: unknown type \"%s\" (expected string, long, integer, short, "
			    "byte, float, double, boolean, binary, date, timestamp or "
			    "decimal(p,s))",
			    path, line, tok[1]);
			goto fail;
		}
		for (size_t i = 0; i < s->n; i++)
			if (strcasecmp(s->fields[i].name, tok[0]) == 0) {
				err_set(e, EX_DATAERR, "%s:%d: column \"%s\" is defined twice",
				        path, line, tok[0]);
				goto fail;
			}
		if (s->n == cap) {
			cap = cap ? cap * 2 : 16;
			struct delta_field *nf = realloc(s->fields, cap * sizeof *nf);
			if (!nf) {
				err_set(e, EX_SOFTWARE, "out of memory");
				goto fail;
			}
			s->fields = nf;
		}
		f.name = strdup(tok[0]);
		f.metadata_json = strdup("{}");
		f.nullable = !notnull;
		s->fields[s->n++] = f;
		if (!f.name || !f.metadata_json) {
			err_set(e, EX_SOFTWARE, "out of memory");
			goto fail;
		}
	}
	if (s->n == 0) {
		err_set(e, EX_DATAERR, "%s: no columns", path);
		goto fail;
	}
	return 0;
fail:
	delta_schema_free(s);
	return -1;
}

int delta_schema_parse_file(const char *path, struct delta_schema *s, struct err_msg *e)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		/* The schema is an input like any other: one that cannot be read is an I/O error. */
		err_set(e, EX_IOERR, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *text = malloc(SCHEMA_FILE_MAX + 1);
	size_t n = text ? fread(text, 1, SCHEMA_FILE_MAX + 1, fp) : 0;
	int bad = ferror(fp), read_errno = errno;
	fclose(fp);
	if (!text || bad || n > SCHEMA_FILE_MAX) {
		err_set(e,
		        !text ? EX_SOFTWARE
		        : bad ? EX_IOERR
		              : EX_DATAERR,
		        "%s: %s", path,
		        !text ? "out of memory"
		        : bad ? strerror(read_errno)
		              : "larger than 1 MiB");
		free(text);
		return -1;
	}
	text[n] = '\0';
	const char *p = text;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	int rc;
	if (*p == '{') {
		rc = delta_schema_parse_json(text, n, s, e);
		if (rc < 0) {
			char why[ERR_MSG_MAX];
			snprintf(why, sizeof why, "%s", e->text);
			err_set(e, EX_DATAERR, "%s: %s", path, why);
		}
	} else {
		rc = delta_schema_parse_list(path, text, s, e);
	}
	free(text);
	return rc;
}

int delta_field_type_name(const struct delta_field *f, char *out, size_t cap)
{
	if (f->type == DT_DECIMAL)
		return snprintf(out, cap, "decimal(%d,%d)", f->precision, f->scale);
	for (size_t i = 0; i < sizeof primitive_names / sizeof primitive_names[0]; i++)
		if (primitive_names[i].type == f->type)
			return snprintf(out, cap, "%s", primitive_names[i].name);
	return snprintf(out, cap, "%s",
	                f->type == DT_STRUCT  ? "struct"
	                : f->type == DT_ARRAY ? "array"
	                                      : "map");
}

static int delta_type_to_json(const struct delta_field *f, struct buf *out);

static int delta_field_to_json(const struct delta_field *f, struct buf *out)
{
	int rc = buf_puts(out, "{\"name\":");
	rc |= buf_json_str(out, f->name, strlen(f->name));
	rc |= buf_puts(out, ",\"type\":");
	rc |= delta_type_to_json(f, out);
	rc |= buf_puts(out, f->nullable ? ",\"nullable\":true,\"metadata\":"
	                                : ",\"nullable\":false,\"metadata\":");
	rc |= buf_puts(out, f->metadata_json ? f->metadata_json : "{}");
	rc |= buf_putc(out, '}');
	return rc ? -1 : 0;
}

static int delta_type_to_json(const struct delta_field *f, struct buf *out)
{
	char name[32];
	int rc = 0;
	switch (f->type) {
	case DT_STRUCT:
		rc |= buf_puts(out, "{\"type\":\"struct\",\"fields\":[");
		for (size_t i = 0; i < f->nchildren; i++) {
			if (i)
				rc |= buf_putc(out, ',');
			rc |= delta_field_to_json(&f->children[i], out);
		}
		rc |= buf_puts(out, "]}");
		return rc ? -1 : 0;
	case DT_ARRAY:
		rc |= buf_puts(out, "{\"type\":\"array\",\"elementType\":");
		rc |= delta_type_to_json(&f->children[0], out);
		rc |= buf_puts(out, f->children[0].nullable ? ",\"containsNull\":true}"
		                                            : ",\"containsNull\":false}");
		return rc ? -1 : 0;
	case DT_MAP:
		rc |= buf_puts(out, "{\"type\":\"map\",\"keyType\":");
		rc |= delta_type_to_json(&f->children[0], out);
		rc |= buf_puts(out, ",\"valueType\":");
		rc |= delta_type_to_json(&f->children[1], out);
		rc |= buf_puts(out, f->children[1].nullable ? ",\"valueContainsNull\":true}"
		                                            : ",\"valueContainsNull\":false}");
		return rc ? -1 : 0;
	default:
		delta_field_type_name(f, name, sizeof name);
		return buf_json_str(out, name, strlen(name));
	}
}

int delta_schema_to_json(const struct delta_schema *s, struct buf *out)
{
	int rc = buf_puts(out, "{\"type\":\"struct\",\"fields\":[");
	for (size_t i = 0; i < s->n; i++) {
		if (i)
			rc |= buf_putc(out, ',');
		rc |= delta_field_to_json(&s->fields[i], out);
	}
	rc |= buf_puts(out, "]}");
	return rc ? -1 : 0;
}

static int delta_field_equal(const struct delta_field *a, const struct delta_field *b)
{
	if (strcmp(a->name, b->name) != 0 || a->type != b->type || a->nullable != b->nullable ||
	    a->nchildren != b->nchildren)
		return 0;
	if (a->type == DT_DECIMAL && (a->precision != b->precision || a->scale != b->scale))
		return 0;
	for (size_t i = 0; i < a->nchildren; i++)
		if (!delta_field_equal(&a->children[i], &b->children[i]))
			return 0;
	return 1;
}

int delta_schema_equal(const struct delta_schema *a, const struct delta_schema *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (!delta_field_equal(&a->fields[i], &b->fields[i]))
			return 0;
	return 1;
}

const struct delta_field *delta_schema_find(const struct delta_schema *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->fields[i].name, name) == 0)
			return &s->fields[i];
	return NULL;
}
