# shellcheck shell=bash
# The s3fs mount options of the lake, shared by the local stack
# (stack/stack.sh) and the Docker tools container (docker/tools.sh).
# README.md ("s3fs mount options") says why each.
#
#   s3fs BUCKET MOUNTPOINT -o "$(s3fs_lake_options URL BUCKET PASSWD_FILE LOGFILE)"

# s3fs_lake_options URL BUCKET PASSWD_FILE LOGFILE: print the -o list.
s3fs_lake_options() {
	local url=$1 bucket=$2 passwd=$3 log=$4 o
	o="url=$url,use_path_request_style,passwd_file=$passwd"
	# The mount names its bucket: table identities need no s3fs process.
	o+=",fsname=s3fs#$bucket"
	# Stat results (sizes, existence) of files another host changed are
	# trusted for one second only.
	o+=",stat_cache_expire=1"
	# Missing names are cached too, for that same second: creating a file
	# asks twice whether it exists (4 requests each), and every file the
	# programs create has a new name.  Nothing that decides a commit looks
	# through the mount: the commit store takes versions and commit text
	# from PostgreSQL.  (Newer s3fs caches them by default.)
	if s3fs --help 2>&1 | grep -q enable_noobj_cache; then
		o+=",enable_noobj_cache"
	fi
	# Objects written by other tools (Spark's S3A) have no mode metadata.
	o+=",complement_stat"
	# The server checks each upload against its MD5.
	o+=",enable_content_md5"
	# Fail within seconds, not minutes, when the server is gone.
	o+=",retries=3,connect_timeout=10,readwrite_timeout=60"
	o+=",logfile=$log,dbglevel=warn"
	echo "$o"
}
