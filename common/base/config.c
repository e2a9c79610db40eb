/*
 * config: the file is read whole (it is small, bounded by CONFIG_FILE_MAX)
 * into a flat array of entries; lookups are linear, which is faster than
 * any structure at the tens of keys a configuration holds.
 */
#include "base/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/*
 * Where `make install` puts the pipelines, the configuration template,
 * schemas and checks; the Makefile passes $(PREFIX)/share/stocketl.  A
 * build without it (the fuzz targets) has the default prefix's.
 */
#ifndef STOCKETL_SHAREDIR
#define STOCKETL_SHAREDIR "/usr/local/share/stocketl"
#endif

struct config_entry {
	char *section;
	char *key;
	char *value;
	int line;
};

struct config {
	char *path;
	struct config_entry *entries;
	size_t n, cap;
};

static char *config_strndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->entries[i].section);
		free(c->entries[i].key);
		free(c->entries[i].value);
	}
	free(c->entries);
	free(c->path);
	free(c);
}

static const char *config_trim(const char *s, const char **end)
{
	while (s < *end && (*s == ' ' || *s == '\t'))
		s++;
	while (*end > s && ((*end)[-1] == ' ' || (*end)[-1] == '\t' || (*end)[-1] == '\r'))
		(*end)--;
	return s;
}

static int config_valid_name(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!(isalnum(ch) || ch == '_' || ch == '-' || ch == '.'))
			return 0;
	}
	return 1;
}

/* Parse the value part v[0..n): quoted or bare, with inline comments. */
static char *config_value_text(const char *v, const char *end, const char **why)
{
	if (v < end && *v == '"') {
		char *out = malloc((size_t)(end - v) + 1);
		if (!out) {
			*why = "out of memory";
			return NULL;
		}
		size_t o = 0;
		const char *p = v + 1;
		for (; p < end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < end) {
				p++;
				switch (*p) {
				case 'n':
					out[o++] = '\n';
					break;
				case 't':
					out[o++] = '\t';
					break;
				case '"':
				case '\\':
					out[o++] = *p;
					break;
				default:
					free(out);
					*why = "unknown escape in quoted value (expected \\\" \\\\ "
					       "\\n or \\t)";
					return NULL;
				}
			} else {
				out[o++] = *p;
			}
		}
		if (p >= end) {
			free(out);
			*why = "unterminated quoted value (expected a closing '\"')";
			return NULL;
		}
		for (p++; p < end && (*p == ' ' || *p == '\t'); p++)
			;
		if (p < end && *p != '#' && *p != ';') {
			free(out);
			*why = "text after the closing quote (expected end of line or a comment)";
			return NULL;
		}
		out[o] = '\0';
		return out;
	}
	/* Bare value: an inline comment starts at whitespace followed by # or ;. */
	const char *stop = end;
	for (const char *p = v; p < end; p++)
		if ((*p == '#' || *p == ';') && p > v && (p[-1] == ' ' || p[-1] == '\t')) {
			stop = p;
			break;
		}
	while (stop > v && (stop[-1] == ' ' || stop[-1] == '\t'))
		stop--;
	char *out = config_strndup(v, (size_t)(stop - v));
	if (!out)
		*why = "out of memory";
	return out;
}

static int config_add(struct config *c, const char *section, const char *key, size_t keylen,
                      char *value, int line)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct config_entry *e = realloc(c->entries, cap * sizeof *e);
		if (!e)
			return -1;
		c->entries = e;
		c->cap = cap;
	}
	struct config_entry *e = &c->entries[c->n];
	e->section = config_strndup(section, strlen(section));
	e->key = config_strndup(key, keylen);
	e->value = value;
	e->line = line;
	if (!e->section || !e->key) {
		free(e->section);
		free(e->key);
		return -1;
	}
	c->n++;
	return 0;
}

struct config *config_parse(const char *name, const char *text, size_t len, struct err_msg *e)
{
	struct config *c = calloc(1, sizeof *c);
	if (!c || !(c->path = config_strndup(name, strlen(name)))) {
		free(c);
		err_set(e, EX_SOFTWARE, "out of memory");
		return NULL;
	}
	char section[128] = "";
	int have_section = 0;
	const char *p = text, *end = text + len;
	int line = 0;
	while (p < end) {
		line++;
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *s = config_trim(p, &le);
		p = nl ? nl + 1 : end;
		if (s == le || *s == '#' || *s == ';')
			continue;
		if (memchr(s, '\0', (size_t)(le - s))) {
			err_set(e, EX_CONFIG, "%s:%d: NUL byte in line", name, line);
			goto fail;
		}
		if (*s == '[') {
			const char *close = memchr(s, ']', (size_t)(le - s));
			const char *after = close ? close + 1 : le;
			while (after < le && (*after == ' ' || *after == '\t'))
				after++;
			if (!close || (after < le && *after != '#' && *after != ';')) {
				err_set(e, EX_CONFIG, "%s:%d: expected \"[section]\"", name, line);
				goto fail;
			}
			const char *ne = close;
			const char *ns = config_trim(s + 1, &ne);
			if (!config_valid_name(ns, (size_t)(ne - ns)) ||
			    (size_t)(ne - ns) >= sizeof section) {
				err_set(e, EX_CONFIG,
				        "%s:%d: expected a section name of letters, digits, '_', "
				        "'-', '.'",
				        name, line);
				goto fail;
			}
			memcpy(section, ns, (size_t)(ne - ns));
			section[ne - ns] = '\0';
			have_section = 1;
			continue;
		}
		const char *eq = s;
		while (eq < le && *eq != '=' && *eq != ':')
			eq++;
		if (eq == le) {
			err_set(e, EX_CONFIG, "%s:%d: expected \"key = value\" or \"[section]\"",
			        name, line);
			goto fail;
		}
		const char *ke = eq;
		const char *ks = config_trim(s, &ke);
		if (!config_valid_name(ks, (size_t)(ke - ks))) {
			err_set(
			    e, EX_CONFIG,
			    "%s:%d: expected a key of letters, digits, '_', '-', '.' before '%c'",
			    name, line, *eq);
			goto fail;
		}
		if (!have_section) {
			err_set(e, EX_CONFIG, "%s:%d: key \"%.*s\" outside any [section]", name,
			        line, (int)(ke - ks), ks);
			goto fail;
		}
		char key[128];
		if ((size_t)(ke - ks) >= sizeof key) {
			err_set(e, EX_CONFIG, "%s:%d: key too long", name, line);
			goto fail;
		}
		memcpy(key, ks, (size_t)(ke - ks));
		key[ke - ks] = '\0';
		if (config_line(c, section, key)) {
			err_set(e, EX_CONFIG,
			        "%s:%d: duplicate key \"%s\" in [%s] (first set on line %d)", name,
			        line, key, section, config_line(c, section, key));
			goto fail;
		}
		const char *ve = le;
		const char *vs = config_trim(eq + 1, &ve);
		const char *why = NULL;
		char *value = config_value_text(vs, ve, &why);
		if (!value) {
			err_set(e, EX_CONFIG, "%s:%d: %s", name, line, why);
			goto fail;
		}
		if (config_add(c, section, key, strlen(key), value, line) < 0) {
			free(value);
			err_set(e, EX_SOFTWARE, "out of memory");
			goto fail;
		}
	}
	return c;
fail:
	config_free(c);
	return NULL;
}

struct config *config_load(const char *path, struct err_msg *e)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		err_set(e, EX_CONFIG, "%s: %s", path, strerror(errno));
		return NULL;
	}
	char *text = malloc(CONFIG_FILE_MAX + 1);
	if (!text) {
		fclose(fp);
		err_set(e, EX_SOFTWARE, "out of memory");
		return NULL;
	}
	size_t n = fread(text, 1, CONFIG_FILE_MAX + 1, fp);
	int rerr = ferror(fp);
	fclose(fp);
	struct config *c = NULL;
	if (rerr)
		err_set(e, EX_CONFIG, "%s: read error", path);
	else if (n > CONFIG_FILE_MAX)
		err_set(e, EX_CONFIG, "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
	else
		c = config_parse(path, text, n, e);
	free(text);
	return c;
}

/* Does this entry hold a secret that group/other must not read? */
static int config_is_secret(const struct config_entry *e)
{
	if (!*e->value)
		return 0;
	if (strcasecmp(e->key, "api_key") == 0 || strcasecmp(e->key, "password") == 0 ||
	    strcasecmp(e->key, "secret_key") == 0)
		return 1;
	if (strcasecmp(e->key, "dsn") == 0) {
		/* key=value form with password=..., or a URI with user:password@ */
		if (strstr(e->value, "password="))
			return 1;
		const char *scheme = strstr(e->value, "://");
		const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
		return at && memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) != NULL;
	}
	return 0;
}

/*
 * The implicit places, in order.  The user's file is looked for under
 * $HOME; without HOME that place is left out rather than guessed.
 */
static const char *config_implicit_path(char *buf, size_t n)
{
	struct stat st;
	if (stat(CONFIG_DEFAULT_PATH, &st) == 0)
		return CONFIG_DEFAULT_PATH;
	const char *home = getenv("HOME");
	if (home && *home) {
		int len = snprintf(buf, n, "%s/" CONFIG_USER_PATH, home);
		if (len > 0 && (size_t)len < n && stat(buf, &st) == 0)
			return buf;
	}
	if (stat(CONFIG_SYSTEM_PATH, &st) == 0)
		return CONFIG_SYSTEM_PATH;
	return NULL;
}

/*
 * Has the job runner checked this file's mode already (and said so once
 * for the run)?  It names the file in STOCKETL_CONFIG_CHECKED, so that
 * each of a run's programs does not say it again.
 */
static int config_checked(const char *path)
{
	const char *checked = getenv("STOCKETL_CONFIG_CHECKED");
	char real[PATH_MAX];
	return checked && *checked && realpath(path, real) && strcmp(real, checked) == 0;
}

struct config *config_open(const char *flag_path, struct err_msg *e)
{
	char userpath[4096];
	const char *path = flag_path;
	if (!path || !*path) {
		const char *env = getenv("STOCKETL_CONFIG");
		path = env && *env ? env : NULL;
	}
	if (!path)
		path = config_implicit_path(userpath, sizeof userpath);
	if (!path) {
		struct config *c = calloc(1, sizeof *c);
		if (!c)
			err_set(e, EX_SOFTWARE, "out of memory");
		return c;
	}
	struct config *c = config_load(path, e);
	if (!c)
		return NULL;
	struct stat st;
	if (stat(path, &st) == 0 && (st.st_mode & 077) && !config_checked(path)) {
		for (size_t i = 0; i < c->n; i++)
			if (config_is_secret(&c->entries[i])) {
				err_warn("%s: holds a secret ([%s] %s) but is readable by group or "
				         "others; run chmod 600 %s",
				         path, c->entries[i].section, c->entries[i].key, path);
				break;
			}
	}
	return c;
}

const char *config_share_dir(void)
{
	const char *env = getenv("STOCKETL_SHARE");
	return env && *env ? env : STOCKETL_SHAREDIR;
}

int config_data_file(const char *rel, char *out, size_t n)
{
	struct stat st;
	int len = snprintf(out, n, "conf/%s", rel);
	if (len > 0 && (size_t)len < n && stat(out, &st) == 0)
		return 0;
	len = snprintf(out, n, "%s/conf/%s", config_share_dir(), rel);
	return len > 0 && (size_t)len < n ? 0 : -1;
}

const char *config_path(const struct config *c)
{
	return c ? c->path : NULL;
}

static const struct config_entry *config_find(const struct config *c, const char *section,
                                              const char *key)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < c->n; i++)
		if (strcasecmp(c->entries[i].section, section) == 0 &&
		    strcasecmp(c->entries[i].key, key) == 0)
			return &c->entries[i];
	return NULL;
}

const char *config_get(const struct config *c, const char *section, const char *key)
{
	const struct config_entry *e = config_find(c, section, key);
	return e ? e->value : NULL;
}

int config_line(const struct config *c, const char *section, const char *key)
{
	const struct config_entry *e = config_find(c, section, key);
	return e ? e->line : 0;
}

void config_setting_name(const struct config *c, const char *from, const char *flagname,
                         const char *section, const char *key, char *out, size_t n)
{
	int line = config_line(c, section, key);
	if (from && strcmp(from, "flag") == 0)
		snprintf(out, n, "%s", flagname);
	else if (line > 0 && from && strcmp(from, "environment") != 0 &&
	         strcmp(from, "default") != 0)
		snprintf(out, n, "%s:%d: [%s] %s", from, line, section, key);
	else
		snprintf(out, n, "[%s] %s", section, key);
}

const char *config_value(const struct config *c, const char *flag, const char *env,
                         const char *section, const char *key, const char *def, const char **from)
{
	const char *src = "default";
	const char *v = def;
	const char *ev = env ? getenv(env) : NULL;
	const char *fv = config_get(c, section, key);
	if (flag) {
		v = flag;
		src = "flag";
	} else if (ev && *ev) {
		v = ev;
		src = "environment";
	} else if (fv) {
		v = fv;
		src = config_path(c);
	}
	if (from)
		*from = src;
	return v;
}

int config_parse_int(const char *text, const char *what, int64_t min, int64_t max, int64_t *out,
                     struct err_msg *e)
{
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (!*text || *end || errno || v < min || v > max) {
		err_set(e, EX_CONFIG, "%s: expected an integer from %lld to %lld, got '%.80s%s'",
		        what, (long long)min, (long long)max, text, strlen(text) > 80 ? "..." : "");
		return -1;
	}
	*out = v;
	return 0;
}

int config_parse_bool(const char *text, const char *what, int *out, struct err_msg *e)
{
	static const char *yes[] = {"true", "yes", "on", "1"};
	static const char *no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	err_set(e, EX_CONFIG, "%s: expected true or false, got '%.80s%s'", what, text,
	        strlen(text) > 80 ? "..." : "");
	return -1;
}
