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
	free(f->phys);
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

/* Types in the column list format: Spark's DDL (array<T>, map<K,V>, struct<name:T,...>). */
struct ddl {
	const char *p;
	char why[512]; /* what was wrong, when parsing failed */
};

#define DDL_MAX_DEPTH 32

static void ddl_ws(struct ddl *d)
{
	while (*d->p == ' ' || *d->p == '\t' || *d->p == '\r')
		d->p++;
}

/* A word of letters, digits and '_' into out (lower-cased when fold); its length (0: none). */
static size_t ddl_word(struct ddl *d, char *out, size_t cap, int fold)
{
	ddl_ws(d);
	size_t n = 0;
	while (isalnum((unsigned char)d->p[n]) || d->p[n] == '_')
		n++;
	if (n >= cap)
		snprintf(d->why, sizeof d->why, "a name longer than %zu", cap - 1);
	if (n == 0 || n >= cap)
		return 0;
	for (size_t i = 0; i < n; i++)
		out[i] = fold ? (char)tolower((unsigned char)d->p[i]) : d->p[i];
	out[n] = '\0';
	d->p += n;
	return n;
}

static int ddl_expect(struct ddl *d, char c, const char *after)
{
	ddl_ws(d);
	if (*d->p != c) {
		snprintf(d->why, sizeof d->why, "expected '%c' %s", c, after);
		return -1;
	}
	d->p++;
	return 0;
}

/* "not null" next (consumed), or not. */
static int ddl_not_null(struct ddl *d)
{
	const char *at = d->p;
	char w[8];
	if (ddl_word(d, w, sizeof w, 1) && strcmp(w, "not") == 0 && ddl_word(d, w, sizeof w, 1) &&
	    strcmp(w, "null") == 0)
		return 1;
	d->p = at;
	d->why[0] = '\0';
	return 0;
}

static int ddl_child(struct delta_field *c, const char *name, int nullable)
{
	c->name = strdup(name);
	c->metadata_json = strdup("{}");
	c->nullable = nullable;
	return c->name && c->metadata_json ? 0 : -1;
}

static int ddl_type(struct ddl *d, struct delta_field *f, int depth);

static int ddl_struct(struct ddl *d, struct delta_field *f, int depth)
{
	f->type = DT_STRUCT;
	if (ddl_expect(d, '<', "after struct") < 0)
		return -1;
	ddl_ws(d);
	if (*d->p == '>') {
		d->p++;
		return 0;
	}
	size_t cap = 0;
	for (;;) {
		char name[256];
		if (!ddl_word(d, name, sizeof name, 0)) {
			if (!d->why[0])
				snprintf(d->why, sizeof d->why,
				         "expected a field name in struct<...>");
			return -1;
		}
		for (size_t i = 0; i < f->nchildren; i++)
			if (strcasecmp(f->children[i].name, name) == 0) {
				snprintf(d->why, sizeof d->why, "field \"%s\" is defined twice",
				         name);
				return -1;
			}
		if (f->nchildren == cap) {
			cap = cap ? 2 * cap : 8;
			struct delta_field *nc = realloc(f->children, cap * sizeof *nc);
			if (!nc)
				return -2;
			f->children = nc;
		}
		struct delta_field *c = &f->children[f->nchildren++];
		memset(c, 0, sizeof *c);
		if (ddl_child(c, name, 1) < 0)
			return -2;
		ddl_ws(d);
		if (*d->p == ':')
			d->p++;
		int rc = ddl_type(d, c, depth + 1);
		if (rc < 0)
			return rc;
		if (ddl_not_null(d))
			c->nullable = 0;
		ddl_ws(d);
		if (*d->p == '>') {
			d->p++;
			return 0;
		}
		if (ddl_expect(d, ',', "or '>' after a field of struct<...>") < 0)
			return -1;
	}
}

/* A type at d->p into f (whose name and nullability are set); -1 (d->why says why), -2 out of memory. */
static int ddl_type(struct ddl *d, struct delta_field *f, int depth)
{
	char w[32];
	if (depth > DDL_MAX_DEPTH) {
		snprintf(d->why, sizeof d->why, "nested more than %d deep", DDL_MAX_DEPTH);
		return -1;
	}
	if (!ddl_word(d, w, sizeof w, 1)) {
		if (!d->why[0])
			snprintf(d->why, sizeof d->why, "expected a type");
		return -1;
	}
	if (strcmp(w, "struct") == 0)
		return ddl_struct(d, f, depth);
	if (strcmp(w, "array") == 0 || strcmp(w, "map") == 0) {
		int is_map = w[0] == 'm';
		f->type = is_map ? DT_MAP : DT_ARRAY;
		f->children = calloc(is_map ? 2 : 1, sizeof *f->children);
		if (!f->children)
			return -2;
		f->nchildren = is_map ? 2 : 1;
		if (ddl_child(&f->children[0], is_map ? "key" : "element", !is_map) < 0 ||
		    (is_map && ddl_child(&f->children[1], "value", 1) < 0))
			return -2;
		if (ddl_expect(d, '<', is_map ? "after map" : "after array") < 0)
			return -1;
		int rc = ddl_type(d, &f->children[0], depth + 1);
		if (rc < 0)
			return rc;
		if (is_map) {
			if (!delta_type_is_primitive(f->children[0].type)) {
				snprintf(d->why, sizeof d->why,
				         "a map's keys must be of a primitive type");
				return -1;
			}
			if (ddl_expect(d, ',', "between a map's key and value types") < 0)
				return -1;
			if ((rc = ddl_type(d, &f->children[1], depth + 1)) < 0)
				return rc;
		}
		return ddl_expect(d, '>', is_map ? "after map<K,V" : "after array<T");
	}
	const char *alias = strcmp(w, "bigint") == 0     ? "long"
	                    : strcmp(w, "int") == 0      ? "integer"
	                    : strcmp(w, "smallint") == 0 ? "short"
	                    : strcmp(w, "tinyint") == 0  ? "byte"
	                    : strcmp(w, "bool") == 0     ? "boolean"
	                                                 : w;
	char text[64];
	ddl_ws(d);
	if (strcmp(alias, "decimal") == 0 && *d->p == '(') {
		/* decimal(p, s), spaces allowed */
		int prec, scale, n = 0;
		if (sscanf(d->p, "( %d , %d )%n", &prec, &scale, &n) != 2 || n == 0) {
			snprintf(d->why, sizeof d->why, "expected decimal(p,s)");
			return -1;
		}
		d->p += n;
		snprintf(text, sizeof text, "decimal(%d,%d)", prec, scale);
		alias = text;
	}
	f->type = delta_parse_primitive(alias, &f->precision, &f->scale);
	if (f->type < 0 && strncmp(alias, "decimal(", 8) == 0) {
		snprintf(d->why, sizeof d->why,
		         "type \"%s\": a decimal(p,s) takes 1 <= p <= 38 and 0 <= s <= p", alias);
		f->type = 0;
		return -1;
	}
	if (f->type < 0 || f->type == DT_VOID) {
		snprintf(d->why, sizeof d->why,
		         "unknown type \"%s\" (expected string, long, integer, short, byte, float, "
		         "double, boolean, binary, date, timestamp, decimal(p,s), array<T>, "
		         "map<K,V> or struct<name:T,...>)",
		         alias);
		f->type = 0;
		return -1;
	}
	return 0;
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
		struct ddl d = {.p = l};
		char name[256];
		ddl_ws(&d);
		if (!*d.p)
			continue;
		const char *name_at = d.p;
		while (*d.p && *d.p != ' ' && *d.p != '\t' && *d.p != '\r')
			d.p++;
		size_t nlen = (size_t)(d.p - name_at);
		snprintf(name, sizeof name, "%.*s",
		         (int)(nlen < sizeof name ? nlen : sizeof name - 1), name_at);
		ddl_ws(&d);
		if (!*d.p) {
			err_set(e, EX_DATAERR,
			        "%s:%d: expected \"name type\" or \"name type not null\"", path,
			        line);
			goto fail;
		}
		if (nlen >= sizeof name || !delta_valid_column_name(name)) {
			err_set(e, EX_DATAERR,
			        "%s:%d: column name \"%s\": expected letters, digits and '_'", path,
			        line, name);
			goto fail;
		}
		for (size_t i = 0; i < s->n; i++)
			if (strcasecmp(s->fields[i].name, name) == 0) {
				err_set(e, EX_DATAERR, "%s:%d: column \"%s\" is defined twice",
				        path, line, name);
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
		struct delta_field *f = &s->fields[s->n++];
		memset(f, 0, sizeof *f);
		if (ddl_child(f, name, 1) < 0) {
			err_set(e, EX_SOFTWARE, "out of memory");
			goto fail;
		}
		const char *type_at = d.p;
		int rc = ddl_type(&d, f, 0);
		if (rc == -2) {
			err_set(e, EX_SOFTWARE, "out of memory");
			goto fail;
		}
		if (rc < 0) {
			/* A primitive's message stands alone; a nested type's quotes the type. */
			if ((strncmp(d.why, "unknown type", 12) == 0 ||
			     strncmp(d.why, "type \"", 6) == 0) &&
			    delta_type_is_primitive(f->type))
				err_set(e, EX_DATAERR, "%s:%d: %s", path, line, d.why);
			else
				err_set(e, EX_DATAERR, "%s:%d: type \"%s\": %s", path, line,
				        type_at, d.why);
			goto fail;
		}
		if (ddl_not_null(&d))
			f->nullable = 0;
		ddl_ws(&d);
		if (*d.p) {
			err_set(e, EX_DATAERR,
			        "%s:%d: expected \"name type\" or \"name type not null\"", path,
			        line);
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

/* Type widening ------------------------------------------------------------------ */

static int int_rank(int t)
{
	return t == DT_BYTE ? 1 : t == DT_SHORT ? 2 : t == DT_INTEGER ? 3 : t == DT_LONG ? 4 : 0;
}

/* Is a change of type from (ft, fp, fs) to (tt, tp, ts) a widening the protocol allows? */
static int widening(int ft, int fp, int fs, int tt, int tp, int ts)
{
	int fr = int_rank(ft), tr = int_rank(tt);
	if (fr && tr)
		return fr < tr;
	if (tt == DT_DOUBLE)
		return ft == DT_FLOAT || (fr && fr <= 3);
	if (ft == DT_DATE)
		return tt == DT_TIMESTAMP_NTZ;
	if (tt != DT_DECIMAL)
		return 0;
	if (ft == DT_DECIMAL)
		return ts >= fs && tp - fp >= ts - fs;
	/* decimal(10 + k1, k2) for integers up to int, decimal(20 + k1, k2) for long, k1 >= k2 */
	return fr && tp - ts >= (fr == 4 ? 20 : 10);
}

static int check_changes(const struct delta_field *f, struct err_msg *e)
{
	if (f->metadata_json && strstr(f->metadata_json, "\"delta.typeChanges\"")) {
		struct json *m = json_parse(f->metadata_json, strlen(f->metadata_json), e);
		const struct json *list = json_get(m, "delta.typeChanges");
		int ok = list && json_type(list) == JSON_ARRAY;
		for (size_t i = 0; ok && i < json_size(list); i++) {
			const char *from = json_str(json_get(json_at(list, i), "fromType"));
			const char *to = json_str(json_get(json_at(list, i), "toType"));
			int fp = 0, fs = 0, tp = 0, ts = 0;
			int ft = from ? delta_parse_primitive(from, &fp, &fs) : -1;
			int tt = to ? delta_parse_primitive(to, &tp, &ts) : -1;
			if (ft < 0 || tt < 0 || !widening(ft, fp, fs, tt, tp, ts)) {
				err_set(e, EX_DATAERR,
				        "column \"%s\": the type change from %s to %s "
				        "(delta.typeChanges) is not one this reads",
				        f->name, from ? from : "?", to ? to : "?");
				json_free(m);
				return -1;
			}
		}
		json_free(m);
		if (!ok) {
			err_set(e, EX_DATAERR, "column \"%s\": delta.typeChanges is not a list",
			        f->name);
			return -1;
		}
	}
	for (size_t i = 0; i < f->nchildren; i++)
		if (check_changes(&f->children[i], e) < 0)
			return -1;
	return 0;
}

int delta_schema_check_type_changes(const struct delta_schema *s, struct err_msg *e)
{
	for (size_t i = 0; i < s->n; i++)
		if (check_changes(&s->fields[i], e) < 0)
			return -1;
	return 0;
}

/* Column mapping ------------------------------------------------------------------ */

static int map_field(struct delta_field *f, int by_id, struct err_msg *e)
{
	struct json *m =
	    f->metadata_json ? json_parse(f->metadata_json, strlen(f->metadata_json), e) : NULL;
	const char *phys = json_str(json_get(m, "delta.columnMapping.physicalName"));
	int64_t id = 0;
	int ok = phys &&
	         (!by_id || (json_i64(json_get(m, "delta.columnMapping.id"), &id) == 0 && id > 0));
	if (!ok) {
		json_free(m);
		err_set(
		    e, EX_DATAERR,
		    "column mapping: field \"%s\" has no delta.columnMapping.%s in its metadata",
		    f->name, phys ? "id" : "physicalName");
		return -1;
	}
	free(f->phys);
	f->phys = strdup(phys);
	f->map_id = by_id ? id : 0;
	json_free(m);
	if (!f->phys) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	return 0;
}

/* Map a field, and the struct fields below it (array elements and map keys and values have none). */
static int map_tree(struct delta_field *f, int by_id, int named, struct err_msg *e)
{
	if (named && map_field(f, by_id, e) < 0)
		return -1;
	for (size_t i = 0; i < f->nchildren; i++)
		if (map_tree(&f->children[i], by_id, f->type == DT_STRUCT, e) < 0)
			return -1;
	return 0;
}

/* Take the column mapping off a field and the fields below it. */
static void unmap_tree(struct delta_field *f)
{
	free(f->phys);
	f->phys = NULL;
	f->map_id = 0;
	for (size_t i = 0; i < f->nchildren; i++)
		unmap_tree(&f->children[i]);
}

int delta_schema_map(struct delta_schema *s, const char *mode, struct err_msg *e)
{
	for (size_t i = 0; i < s->n; i++)
		unmap_tree(&s->fields[i]);
	if (!mode || strcasecmp(mode, "none") == 0)
		return 0;
	int by_id = strcasecmp(mode, "id") == 0;
	if (!by_id && strcasecmp(mode, "name") != 0) {
		err_set(e, EX_DATAERR, "column mapping: unknown mode \"%s\"", mode);
		return -1;
	}
	for (size_t i = 0; i < s->n; i++)
		if (map_tree(&s->fields[i], by_id, 1, e) < 0)
			return -1;
	return 0;
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

const struct delta_field *delta_schema_column(const struct delta_schema *s, const char *name)
{
	const struct delta_field *f = delta_schema_find(s, name), *hit = NULL;
	if (f)
		return f;
	for (size_t i = 0; i < s->n; i++)
		if (strcasecmp(s->fields[i].name, name) == 0) {
			if (hit)
				return NULL;
			hit = &s->fields[i];
		}
	return hit;
}
