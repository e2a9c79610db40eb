/*
 * delta-create: create a Delta table (version 0) from a schema file.
 *
 * Version 0 holds commitInfo, protocol 1/2 and metaData.  It is committed
 * through the same put-if-absent store as every other commit, so two
 * creators racing for one table cannot both win; the loser (and anyone
 * creating a table that already exists) compares schemas instead.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/cli.h"
#include "base/config.h"
#include "delta/delta.h"
#include "base/err.h"
#include "text/ts.h"

static const char usage[] =
    "usage: delta-create [-qv] [--config FILE] --schema FILE [--partition-by COLS]\n"
    "                    [--property KEY=VALUE ...] TABLE\n";

static const struct cli_option options[] = {
    {"--config FILE", "the configuration file"},
    {"--partition-by COLS", "partition by these columns (comma-separated)"},
    {"--property KEY=VALUE", "a table property (delta.appendOnly ...)"},
    {"--schema FILE", "the columns: \"name type\" lines, or Spark's JSON"},
    {NULL, NULL},
};

/* Properties this writer knows it cannot honour at protocol 1/2. */
static const char *const refused_properties[] = {
    "delta.enableChangeDataFeed",     "delta.enableDeletionVectors", "delta.enableRowTracking",
    "delta.enableInCommitTimestamps", "delta.columnMapping.mode",    "delta.enableTypeWidening",
};

struct opts {
	const char *config;
	const char *schema;
	const char *partition_by;
	struct delta_map props;
};

static void free_props(struct delta_map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->kv[i].key);
		free(m->kv[i].value);
	}
	free(m->kv);
	m->kv = NULL;
	m->n = 0;
}

static int add_property(struct opts *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg)
		return cli_bad_value(usage, "--property", arg, "KEY=VALUE");
	struct delta_kv *kv = realloc(o->props.kv, (o->props.n + 1) * sizeof *kv);
	if (!kv) {
		err_error("out of memory");
		return EX_SOFTWARE;
	}
	o->props.kv = kv;
	kv[o->props.n].key = strndup(arg, (size_t)(eq - arg));
	kv[o->props.n].value = strdup(eq + 1);
	o->props.n++;
	const char *key = kv[o->props.n - 1].key, *val = eq + 1;
	for (size_t i = 0; i < sizeof refused_properties / sizeof *refused_properties; i++)
		if (strcmp(key, refused_properties[i]) == 0 &&
		    !(strcasecmp(val, "false") == 0 || strcasecmp(val, "none") == 0))
			return cli_usage_error(usage,
			                       "--property %s: needs a table feature that this "
			                       "writer does not implement (protocol 1/2 only)",
			                       arg);
	if (strncmp(key, "delta.constraints.", 18) == 0)
		return cli_usage_error(usage, "--property %s: CHECK constraints are not supported",
		                       arg);
	if (strcmp(key, "delta.checkpointInterval") == 0) {
		char *end;
		long long n = strtoll(val, &end, 10);
		if (!*val || *end || n <= 0)
			return cli_bad_value(usage, "--property delta.checkpointInterval", val,
			                     "a positive integer");
	}
	if (strcmp(key, "delta.appendOnly") == 0 && strcasecmp(val, "true") != 0 &&
	    strcasecmp(val, "false") != 0)
		return cli_bad_value(usage, "--property delta.appendOnly", val, "true or false");
	return 0;
}

/* Split "a,b" into partition columns, checked against the schema. */
static int parse_partitions(const char *list, const struct delta_schema *s, char ***cols, size_t *n,
                            struct err_msg *e)
{
	*cols = NULL;
	*n = 0;
	if (!list || !*list)
		return 0;
	char *copy = strdup(list);
	if (!copy) {
		err_set(e, EX_SOFTWARE, "out of memory");
		return -1;
	}
	size_t cap = 1;
	for (const char *p = list; *p; p++)
		cap += *p == ',';
	*cols = calloc(cap + 1, sizeof **cols);
	char *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		const struct delta_field *f = delta_schema_find(s, t);
		if (!f) {
			err_set(e, EX_USAGE, "--partition-by: no column \"%s\" in the schema", t);
			goto fail;
		}
		if (!delta_type_is_primitive(f->type) || f->type == DT_BINARY) {
			err_set(e, EX_USAGE,
			        "--partition-by: column \"%s\" cannot be a partition column", t);
			goto fail;
		}
		for (size_t i = 0; i < *n; i++)
			if (strcmp((*cols)[i], t) == 0) {
				err_set(e, EX_USAGE,
				        "--partition-by: column \"%s\" is listed twice", t);
				goto fail;
			}
		(*cols)[(*n)++] = strdup(t);
	}
	free(copy);
	if (*n == s->n) {
		err_set(e, EX_USAGE,
		        "--partition-by: at least one column must not be a partition column");
		return -1;
	}
	return 0;
fail:
	free(copy);
	return -1;
}

static void json_map(struct buf *b, const struct delta_map *m)
{
	buf_putc(b, '{');
	for (size_t i = 0; i < m->n; i++) {
		if (i)
			buf_putc(b, ',');
		buf_json_str(b, m->kv[i].key, strlen(m->kv[i].key));
		buf_putc(b, ':');
		buf_json_str(b, m->kv[i].value, strlen(m->kv[i].value));
	}
	buf_putc(b, '}');
}

static void json_strv(struct buf *b, char **v, size_t n)
{
	buf_putc(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(b, ',');
		buf_json_str(b, v[i], strlen(v[i]));
	}
	buf_putc(b, ']');
}

/* The text of version 0. */
static int build_commit(struct buf *b, const struct delta_schema *s, char **parts, size_t nparts,
                        const struct delta_map *props)
{
	char id[37], txn[37];
	delta_uuid(id);
	delta_uuid(txn);
	int64_t now = ts_now() / 1000;
	struct buf schema = BUF_INIT, tmp = BUF_INIT;
	delta_schema_to_json(s, &schema);

	buf_printf(b,
	           "{\"commitInfo\":{\"timestamp\":%lld,\"operation\":\"CREATE TABLE\","
	           "\"operationParameters\":{\"isManaged\":\"false\",\"description\":null,"
	           "\"partitionBy\":",
	           (long long)now);
	json_strv(&tmp, parts, nparts);
	buf_json_str(b, tmp.data ? tmp.data : "[]", tmp.len);
	buf_reset(&tmp);
	buf_puts(b, ",\"properties\":");
	json_map(&tmp, props);
	buf_json_str(b, tmp.data, tmp.len);
	buf_printf(b,
	           "},\"isolationLevel\":\"Serializable\",\"isBlindAppend\":true,"
	           "\"operationMetrics\":{},\"engineInfo\":\"%s\",\"txnId\":\"%s\"}}\n",
	           DELTA_ENGINE, txn);
	buf_puts(b, "{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":2}}\n");
	buf_printf(b,
	           "{\"metaData\":{\"id\":\"%s\",\"format\":{\"provider\":\"parquet\","
	           "\"options\":{}},\"schemaString\":",
	           id);
	buf_json_str(b, schema.data, schema.len);
	buf_puts(b, ",\"partitionColumns\":");
	json_strv(b, parts, nparts);
	buf_puts(b, ",\"configuration\":");
	json_map(b, props);
	buf_printf(b, ",\"createdTime\":%lld}}\n", (long long)now);
	buf_free(&schema);
	buf_free(&tmp);
	return 0;
}

/* An existing table: the same schema and partitioning is success, anything else an error. */
static int compare_existing(const char *root, const struct delta_schema *s, char **parts,
                            size_t nparts, const struct delta_map *props)
{
	struct delta_snapshot snap;
	struct err_msg e;
	if (delta_snapshot_load(root, NULL, &snap, &e) < 0) {
		err_error("%s", e.text);
		return e.status ? e.status : EX_DATAERR;
	}
	int rc = EX_OK;
	int same_parts = snap.meta.n_partition_columns == nparts;
	for (size_t i = 0; same_parts && i < nparts; i++)
		same_parts = strcmp(snap.meta.partition_columns[i], parts[i]) == 0;
	if (!delta_schema_equal(&snap.meta.schema, s)) {
		err_error("%s: the table exists with a different schema", root);
		rc = EX_DATAERR;
	} else if (!same_parts) {
		err_error("%s: the table exists with different partition columns", root);
		rc = EX_DATAERR;
	} else {
		for (size_t i = 0; i < props->n; i++) {
			int found;
			const char *v =
			    delta_map_get(&snap.meta.configuration, props->kv[i].key, &found);
			if (!found || !v || strcmp(v, props->kv[i].value) != 0)
				err_warn("%s: the table exists; property %s is left as it is", root,
				         props->kv[i].key);
		}
		err_info("%s: exists with the same schema (version %lld); nothing to do", root,
		         (long long)snap.version);
	}
	delta_snapshot_free(&snap);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {"partition-by", required_argument, NULL, 'p'},
	    {"property", required_argument, NULL, 'P'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"schema", required_argument, NULL, 's'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct opts o = {0};
	int level = ERR_NORMAL, ch, rc = EX_OK;
	err_init(argv[0]);
	while ((ch = cli_getopt(usage, argc, argv, "hqv", longopts)) != -1) {
		switch (ch) {
		case 'c':
			o.config = optarg;
			break;
		case 'h':
			free_props(&o.props);
			return cli_help(usage, options);
		case 'p':
			o.partition_by = optarg;
			break;
		case 'P':
			if ((rc = add_property(&o, optarg)) != 0) {
				free_props(&o.props);
				return rc;
			}
			break;
		case 'q':
			level = ERR_QUIET;
			break;
		case 's':
			o.schema = optarg;
			break;
		case 'v':
			level++;
			break;
		case 'V':
			free_props(&o.props);
			return cli_version();
		default:
			free_props(&o.props);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	err_set_level(level);
	if (argc != 1 || !o.schema) {
		free_props(&o.props);
		if (argc != 1)
			return cli_usage_error(usage,
			                       argc ? "one table expected" : "no table given");
		return cli_usage_error(usage, "--schema FILE is required");
	}

	struct err_msg e;
	struct config *cfg = config_open(o.config, &e);
	if (!cfg)
		err_die(e.status, "%s", e.text);
	struct buf root = BUF_INIT, text = BUF_INIT;
	struct delta_schema schema = {0};
	char **parts = NULL;
	size_t nparts = 0;
	rc = EX_OK;
	if (delta_resolve_table(cfg, argv[0], &root, &e) < 0) {
		rc = cli_report(usage, &e);
		goto out;
	}
	if (delta_schema_parse_file(o.schema, &schema, &e) < 0 ||
	    parse_partitions(o.partition_by, &schema, &parts, &nparts, &e) < 0) {
		rc = cli_report(usage, &e);
		goto out;
	}
	char logdir[4200];
	snprintf(logdir, sizeof logdir, "%s/_delta_log", root.data);
	if (delta_mkdirs(logdir) < 0) {
		err_error_errno("%s", logdir);
		rc = EX_IOERR;
		goto out;
	}
	build_commit(&text, &schema, parts, nparts, &o.props);
	int64_t latest = delta_latest_version(root.data, &e);
	if (latest < -1) {
		err_error("%s", e.text);
		rc = e.status;
		goto out;
	}
	int put = latest >= 0 ? 1 : delta_commit_put(root.data, 0, text.data, text.len, &e);
	if (put < 0) {
		err_error("%s", e.text);
		rc = e.status;
	} else if (put == 1) {
		rc = compare_existing(root.data, &schema, parts, nparts, &o.props);
	} else {
		err_info("%s: created (version 0, %zu columns%s%s)", root.data, schema.n,
		         nparts ? ", partitioned by " : "", nparts ? o.partition_by : "");
	}
out:
	for (size_t i = 0; i < nparts; i++)
		free(parts[i]);
	free(parts);
	free_props(&o.props);
	delta_schema_free(&schema);
	buf_free(&root);
	buf_free(&text);
	config_free(cfg);
	return rc;
}
