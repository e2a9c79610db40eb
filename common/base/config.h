/*
 * config: the INI configuration file and the precedence of settings.
 *
 * The file is found by --config, then $STOCKETL_CONFIG, then the first of
 * ./conf/stocketl.ini, ~/.config/stocketl/stocketl.ini and
 * /etc/stocketl/stocketl.ini that exists (absent is fine only for those
 * three implicit places: then the configuration is empty).
 * Grammar: "[section]" headers; "key = value" (or "key: value") lines;
 * comments are lines starting with '#' or ';', and " #"/" ;" after an
 * unquoted value; a value in double quotes keeps '#', ';' and surrounding
 * spaces and understands \" \\ \n \t.  Section and key names are compared
 * without regard to case (so the original pipeline's "[API] api_key"
 * works as written).  Duplicate keys, keys outside a section and
 * malformed lines are errors naming the file and line.
 *
 * A setting's value comes from, in order: the command-line flag, the
 * environment, the file, the built-in default (config_value()).
 *
 * The config owns its strings; pointers returned stay valid until
 * config_free().
 */
#ifndef STOCKETL_CONFIG_H
#define STOCKETL_CONFIG_H

#include <stdint.h>

#include "base/err.h"

#define CONFIG_DEFAULT_PATH "conf/stocketl.ini"
/* Under $HOME. */
#define CONFIG_USER_PATH    ".config/stocketl/stocketl.ini"
#define CONFIG_SYSTEM_PATH  "/etc/stocketl/stocketl.ini"
/* The places looked at, in order, for messages that say none was found. */
#define CONFIG_SEARCH_TEXT                                                                         \
	"--config, $STOCKETL_CONFIG, ./" CONFIG_DEFAULT_PATH ", ~/" CONFIG_USER_PATH               \
	", " CONFIG_SYSTEM_PATH
#define CONFIG_FILE_MAX (1 << 20)

struct config;

/* Parse a file. NULL + e (EX_CONFIG, "path:line: ...") on failure. */
struct config *config_load(const char *path, struct err_msg *e);
/* Parse text already in memory; name is used in messages. */
struct config *config_parse(const char *name, const char *text, size_t len, struct err_msg *e);
/*
 * Find and load the configuration: flag_path (may be NULL), else
 * $STOCKETL_CONFIG, else the first that exists of CONFIG_DEFAULT_PATH,
 * $HOME/CONFIG_USER_PATH and CONFIG_SYSTEM_PATH, else an empty
 * configuration.  A file that was named but cannot be read is an error.
 * Warns (err_warn) when a file that holds a secret (api_key, password,
 * a dsn with a password) is readable by group or others.
 */
struct config *config_open(const char *flag_path, struct err_msg *e);
void config_free(struct config *c);

/*
 * The installed data directory, $(PREFIX)/share/stocketl as built
 * ($STOCKETL_SHARE overrides it): pipelines/, conf/ (the configuration
 * template, tables/ and checks/) and demo/.
 */
const char *config_share_dir(void);
/*
 * The path of a shipped data file, rel being relative to conf/ (e.g.
 * "checks/ticks.checks"): ./conf/rel when it exists (a checkout), else the
 * installed copy under config_share_dir()/conf/, into out[n].  -1 if the
 * path does not fit.
 */
int config_data_file(const char *rel, char *out, size_t n);

/* The file's path, or NULL for an empty configuration. */
const char *config_path(const struct config *c);
/* The value of [section] key, or NULL. */
const char *config_get(const struct config *c, const char *section, const char *key);
/* The line where [section] key was set, 0 if it was not. */
int config_line(const struct config *c, const char *section, const char *key);

/*
 * Precedence: flag (if not NULL), else getenv(env) (if env names a
 * non-empty variable), else the file's [section] key, else def.
 * *from (if not NULL) gets "flag", "environment", the file name or "default".
 */
const char *config_value(const struct config *c, const char *flag, const char *env,
                         const char *section, const char *key, const char *def, const char **from);

/*
 * What a setting is called in messages, given where config_value() took it
 * from: flagname for the flag, "FILE:LINE: [section] key" for the file,
 * else "[section] key"; into out[n].
 */
void config_setting_name(const struct config *c, const char *from, const char *flagname,
                         const char *section, const char *key, char *out, size_t n);

/*
 * Typed parsing of a setting's text, with an error that names where the
 * value came from: "what" is e.g. "[API] max_retries" or "--retries".
 */
int config_parse_int(const char *text, const char *what, int64_t min, int64_t max, int64_t *out,
                     struct err_msg *e);
int config_parse_bool(const char *text, const char *what, int *out, struct err_msg *e);

#endif
