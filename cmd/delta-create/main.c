/*
 * delta-create: create a Delta table (version 0) from a schema file.
 *
 * Version 0 holds commitInfo (CREATE TABLE), protocol 1/2 (or with the
 * table features the schema and properties need) and metaData.  It
 * is made by a transaction of the Delta library, through the table's
 * commit store like every other commit, so two creators racing for one
 * table cannot both win; the loser (and anyone creating a table that
 * already exists) compares schemas instead.
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
#include "delta/delta_rows.h"
#include "delta/delta_store.h"
#include "delta/delta_txn.h"
#include "base/err.h"
#include "text/ts.h"

static const char usage[] =
    "usage: delta-create [-qv] [--config FILE] [--merge-key COLS] [--partition-by COLS]\n"
    "                    [--property KEY=VALUE ...] [--schema FILE] TABLE\n";

static const struct cli_option options[] = {
    {"--config FILE", "the configuration file"},
    {"--merge-key COLS", "rows are upserted by these columns (comma-separated)"},
    {"--partition-by COLS", "partition by these columns (comma-separated)"},
    {"--property KEY=VALUE", "a table property (delta.appendOnly ...)"},
    {"--schema FILE", "the columns (default: the shipped TABLE.schema)"},
    {NULL, NULL},
};

/* Properties that need table features this writer does not implement. */
static const char *const refused_properties[] = {
    "delta.enableDeletionVectors",
    "delta.columnMapping.mode",
    "delta.enableTypeWidening",
};

struct opts {
	const char *config;
	const char *schema;
	const char *partition_by;
	const char *merge_key;
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
			                       "writer does not implement",
			                       arg);
	/* Spark's way to V2 checkpoints: the table it asks for has the v2Checkpoint feature. */
	if (strcmp(key, "delta.checkpointPolicy") == 0 && strcasecmp(val, "classic") != 0)
		return cli_usage_error(usage,
		                       "--property %s: needs the table feature v2Checkpoint, "
		                       "which this writer does not create (protocol 1/2 only; "
		                       "\"classic\" is the policy it writes)",
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
	if ((strcmp(key, "delta.appendOnly") == 0 ||
	     strcmp(key, "delta.enableInCommitTimestamps") == 0 ||
	     strcmp(key, "delta.enableChangeDataFeed") == 0 ||
	     strcmp(key, "delta.enableRowTracking") == 0 ||
	     strcmp(key, "delta.rowTrackingSuspended") == 0) &&
	    strcasecmp(val, "true") != 0 && strcasecmp(val, "false") != 0) {
		char opt[64];
		snprintf(opt, sizeof opt, "--property %s", key);
		return cli_bad_value(usage, opt, val, "true or false");
	}
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

/*
 * The merge key "a, b" as the table property stocketl.mergeKey ("a,b"),
 * checked against the schema, added to the properties.  The property may
 * also come as --property: then both must agree.
 */
static int merge_key_property(const char *list, const struct delta_schema *s,
                              struct delta_map *props, struct err_msg *e)
{
	int found = 0;
	const char *given = delta_map_get(props, DELTA_MERGE_KEY_PROPERTY, &found);
	if (!list && !found)
		return 0;
	const char *what = list ? "--merge-key" : "--property " DELTA_MERGE_KEY_PROPERTY;
	int ao = 0;
	const char *append_only = delta_map_get(props, "delta.appendOnly", &ao);
	if (ao && append_only && strcasecmp(append_only, "true") == 0) {
		err_set(e, EX_USAGE,
		        "%s: an upsert replaces rows, which a table with delta.appendOnly=true "
		        "forbids",
		        what);
		return -1;
	}
	char *copy = strdup(list ? list : given ? given : "");
	struct buf text = BUF_INIT;
	const struct delta_field **seen = calloc(s->n + 1, sizeof *seen);
	size_t nseen = 0;
	int rc = -1;
	if (!copy || !seen) {
		err_set(e, EX_SOFTWARE, "out of memory");
		goto out;
	}
	for (char *save = NULL, *t = strtok_r(copy, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ')
			t++;
		size_t len = strlen(t);
		while (len && t[len - 1] == ' ')
			t[--len] = '\0';
		const struct delta_field *f = delta_schema_find(s, t);
		if (!f) {
			err_set(e, EX_USAGE, "%s: no column \"%s\" in the schema", what, t);
			goto out;
		}
		if (!delta_type_is_primitive(f->type) || f->type == DT_VOID) {
			err_set(e, EX_USAGE, "%s: column \"%s\" cannot be in a key", what, t);
			goto out;
		}
		for (size_t i = 0; i < nseen; i++)
			if (seen[i] == f) {
				err_set(e, EX_USAGE, "%s: column \"%s\" is listed twice", what, t);
				goto out;
			}
		seen[nseen++] = f;
		buf_printf(&text, "%s%s", text.len ? "," : "", t);
	}
	if (!nseen) {
		err_set(e, EX_USAGE, "%s: no column named", what);
		goto out;
	}
	if (buf_failed(&text)) {
		err_set(e, EX_SOFTWARE, "out of memory");
		goto out;
	}
	if (found) {
		if (list && (!given || strcmp(given, text.data) != 0)) {
			err_set(e, EX_USAGE, "--merge-key %s and --property %s=%s disagree", list,
			        DELTA_MERGE_KEY_PROPERTY, given ? given : "");
			goto out;
		}
		/* The property as written, normalised. */
		for (size_t i = 0; i < props->n; i++)
			if (strcmp(props->kv[i].key, DELTA_MERGE_KEY_PROPERTY) == 0) {
				free(props->kv[i].value);
				props->kv[i].value = buf_detach(&text);
			}
		rc = 0;
		goto out;
	}
	struct delta_kv *kv = realloc(props->kv, (props->n + 1) * sizeof *kv);
	if (!kv) {
		err_set(e, EX_SOFTWARE, "out of memory");
		goto out;
	}
	props->kv = kv;
	kv[props->n].key = strdup(DELTA_MERGE_KEY_PROPERTY);
	kv[props->n].value = buf_detach(&text);
	props->n++;
	rc = kv[props->n - 1].key ? 0 : -1;
	if (rc < 0)
		err_set(e, EX_SOFTWARE, "out of memory");
out:
	free(copy);
	free(seen);
	buf_free(&text);
	return rc;
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

/* A struct without fields, which no Parquet file can hold (Spark refuses one too), is refused. */
static int empty_structs(const char *file, const struct delta_field *f, size_t n, struct err_msg *e)
{
	for (size_t i = 0; i < n; i++) {
		if (f[i].type == DT_STRUCT && f[i].nchildren == 0) {
			err_set(e, EX_DATAERR, "%s: field \"%s\" is a struct without fields", file,
			        f[i].name);
			return -1;
		}
		if (empty_structs(file, f[i].children, f[i].nchildren, e) < 0)
			return -1;
	}
	return 0;
}

/* Does a column, or a field nested in one, have the type timestamp_ntz? */
static int has_ntz(const struct delta_field *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (f[i].type == DT_TIMESTAMP_NTZ || has_ntz(f[i].children, f[i].nchildren))
			return 1;
	return 0;
}

/*
 * Version 0: protocol 1/2, or writer version 7 with the features the table
 * needs: timestampNtz (reader version 3 too) for a timestamp_ntz column,
 * inCommitTimestamp for delta.enableInCommitTimestamps=true, and then
 * appendOnly listed too when the table is append-only, and changeDataFeed
 * when delta.enableChangeDataFeed=true (without the others, writer version
 * 4, which has it); the metaData, and a
 * commitInfo with Spark's CREATE TABLE parameters (partitionBy and
 * properties as JSON texts).
 * Returns 0 when made, 1 when another creator made version 0 first, or
 * an exit status.
 */
static int create(struct delta_store *store, const struct delta_schema *s, char **parts,
                  size_t nparts, const struct delta_map *props)
{
	struct buf schema = BUF_INIT, by = BUF_INIT, pr = BUF_INIT;
	struct delta_protocol p = {1, 2, NULL, 0, NULL, 0};
	struct delta_metadata m = {0};
	struct delta_commit_info info;
	struct err_msg e;
	char id[37];
	int rc = EX_SOFTWARE;
	static char f_ntz[] = "timestampNtz", f_ao[] = "appendOnly", f_ict[] = "inCommitTimestamp",
	            f_cdf[] = "changeDataFeed", f_dm[] = "domainMetadata", f_rt[] = "rowTracking";
	static char *ntz[] = {f_ntz};
	char *wf[6];
	int found = 0;
	const char *ao = delta_map_get(props, "delta.appendOnly", &found);
	int append_only = found && ao && strcasecmp(ao, "true") == 0;
	const char *ict = delta_map_get(props, "delta.enableInCommitTimestamps", &found);
	int with_ict = found && ict && strcasecmp(ict, "true") == 0;
	const char *cdf = delta_map_get(props, "delta.enableChangeDataFeed", &found);
	int with_cdf = found && cdf && strcasecmp(cdf, "true") == 0;
	const char *rt = delta_map_get(props, "delta.enableRowTracking", &found);
	int with_rt = found && rt && strcasecmp(rt, "true") == 0;
	int with_ntz = has_ntz(s->fields, s->n);
	if (with_ntz || with_ict || with_rt) {
		p.min_writer = 7;
		p.writer_features = wf;
		if (append_only)
			wf[p.n_writer_features++] = f_ao;
		if (with_cdf)
			wf[p.n_writer_features++] = f_cdf;
		if (with_ict)
			wf[p.n_writer_features++] = f_ict;
		if (with_ntz)
			wf[p.n_writer_features++] = f_ntz;
		if (with_rt) {
			wf[p.n_writer_features++] = f_dm;
			wf[p.n_writer_features++] = f_rt;
		}
	} else if (with_cdf) {
		p.min_writer = 4; /* change data feed, without table features */
	}
	if (with_ntz) {
		p.min_reader = 3;
		p.reader_features = ntz;
		p.n_reader_features = 1;
	}
	delta_uuid(id);
	delta_schema_to_json(s, &schema);
	json_strv(&by, parts, nparts);
	json_map(&pr, props);
	m.id = id;
	m.schema_string = schema.data;
	m.partition_columns = parts;
	m.n_partition_columns = nparts;
	m.configuration = *props;
	/*
	 * Row tracking names the columns that would hold materialized row ids
	 * and commit versions (unique names, never a column of the table).
	 */
	char rid_key[] = "delta.rowTracking.materializedRowIdColumnName",
	     rcv_key[] = "delta.rowTracking.materializedRowCommitVersionColumnName";
	char rid[64], rcv[64], u[37];
	struct delta_kv *conf = NULL;
	if (with_rt) {
		if (!(conf = calloc(props->n + 2, sizeof *conf))) {
			err_error("out of memory");
			buf_free(&schema);
			buf_free(&by);
			buf_free(&pr);
			return EX_SOFTWARE;
		}
		memcpy(conf, props->kv, props->n * sizeof *conf);
		delta_uuid(u);
		snprintf(rid, sizeof rid, "_row-id-col-%s", u);
		delta_uuid(u);
		snprintf(rcv, sizeof rcv, "_row-commit-version-col-%s", u);
		conf[props->n] = (struct delta_kv){rid_key, rid};
		conf[props->n + 1] = (struct delta_kv){rcv_key, rcv};
		m.configuration.kv = conf;
		m.configuration.n = props->n + 2;
	}
	m.created_time = ts_now() / 1000;
	struct delta_txn *t = delta_txn_begin(NULL, store, "CREATE TABLE");
	if (!t || buf_failed(&schema) || buf_failed(&by) || buf_failed(&pr) ||
	    delta_txn_param(t, "isManaged", "false") < 0 ||
	    delta_txn_param(t, "description", NULL) < 0 ||
	    delta_txn_param(t, "partitionBy", by.data) < 0 ||
	    delta_txn_param(t, "properties", pr.data) < 0 || delta_txn_set_protocol(t, &p) < 0 ||
	    delta_txn_set_metadata(t, &m) < 0) {
		err_error("out of memory");
		goto out;
	}
	delta_txn_set_isolation(t, DELTA_SERIALIZABLE);
	int c = delta_txn_commit(t, &info, &e);
	if (c == 0)
		rc = 0;
	else if (info.conflict)
		rc = 1;
	else {
		err_error("%s", e.text);
		rc = e.status ? e.status : EX_SOFTWARE;
	}
out:
	delta_txn_free(t);
	free(conf);
	buf_free(&schema);
	buf_free(&by);
	buf_free(&pr);
	return rc;
}

/* An existing table: the same schema and partitioning is success, anything else an error. */
static int compare_existing(struct delta_store *store, const struct delta_schema *s, char **parts,
                            size_t nparts, const struct delta_map *props)
{
	const char *root = store->root;
	struct delta_snapshot snap;
	struct err_msg e;
	if (delta_store_load(store, NULL, &snap, &e) < 0) {
		err_error("%s", e.text);
		return e.status ? e.status : EX_DATAERR;
	}
	if (snap.has_notice)
		err_warn("%s", snap.notice.text);
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
	    {"merge-key", required_argument, NULL, 'm'},
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
		case 'm':
			o.merge_key = optarg;
			break;
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
	if (argc != 1) {
		free_props(&o.props);
		return cli_usage_error(usage, argc ? "one table expected" : "no table given");
	}
	/*
	 * Without --schema, a table named like one the project ships (bronze,
	 * silver) takes its schema: ./conf/tables/NAME.schema in a checkout,
	 * else the installed copy.
	 */
	char shipped[4096];
	if (!o.schema) {
		const char *name = strrchr(argv[0], '/');
		name = name && name[1] ? name + 1 : argv[0];
		char rel[512];
		struct stat st;
		int n = snprintf(rel, sizeof rel, "tables/%s.schema", name);
		if (n < 0 || (size_t)n >= sizeof rel ||
		    config_data_file(rel, shipped, sizeof shipped) < 0 || stat(shipped, &st) != 0) {
			free_props(&o.props);
			return cli_usage_error(
			    usage,
			    "--schema FILE is required: no schema ships for a table "
			    "named \"%s\" (./conf/%s, %s/conf/%s)",
			    name, rel, config_share_dir(), rel);
		}
		o.schema = shipped;
	}

	struct err_msg e;
	struct config *cfg = config_open(o.config, &e);
	if (!cfg)
		err_die(e.status, "%s", e.text);
	struct buf root = BUF_INIT;
	struct delta_schema schema = {0};
	struct delta_store *store = NULL;
	char **parts = NULL;
	size_t nparts = 0;
	rc = EX_OK;
	if (delta_resolve_table(cfg, argv[0], &root, &e) < 0) {
		rc = cli_report(usage, &e);
		goto out;
	}
	if (delta_schema_parse_file(o.schema, &schema, &e) < 0 ||
	    empty_structs(o.schema, schema.fields, schema.n, &e) < 0 ||
	    parse_partitions(o.partition_by, &schema, &parts, &nparts, &e) < 0 ||
	    merge_key_property(o.merge_key, &schema, &o.props, &e) < 0 ||
	    !(store = delta_store_open(cfg, root.data, &e))) {
		rc = cli_report(usage, &e);
		goto out;
	}
	struct buf logdir = BUF_INIT;
	buf_printf(&logdir, "%s/_delta_log", root.data);
	int mk = buf_failed(&logdir) ? -1 : delta_mkdirs(logdir.data);
	if (mk < 0) {
		err_error_errno("%s", logdir.data ? logdir.data : root.data);
		buf_free(&logdir);
		rc = EX_IOERR;
		goto out;
	}
	buf_free(&logdir);
	int64_t latest = delta_store_recover(store, &e) < 0 ? -2 : delta_store_latest(store, &e);
	if (latest < -1) {
		err_error("%s", e.text);
		rc = e.status;
		goto out;
	}
	/*
	 * The store (PostgreSQL) holds versions of a table here, but the bucket
	 * no log: a table deleted without its rows.  Made again, it would take
	 * up the deleted one's versions and files.
	 */
	if (delta_store_log_present(store, latest, &e) < 0) {
		err_error("%s", e.text);
		rc = e.status;
		goto out;
	}
	int made = latest >= 0 ? 1 : create(store, &schema, parts, nparts, &o.props);
	if (made == 1)
		rc = compare_existing(store, &schema, parts, nparts, &o.props);
	else if (made == 0)
		err_info("%s: created (version 0, %zu columns%s%s)", root.data, schema.n,
		         nparts ? ", partitioned by " : "", nparts ? o.partition_by : "");
	else
		rc = made;
out:
	for (size_t i = 0; i < nparts; i++)
		free(parts[i]);
	free(parts);
	free_props(&o.props);
	delta_schema_free(&schema);
	delta_store_close(store);
	buf_free(&root);
	config_free(cfg);
	return rc;
}
