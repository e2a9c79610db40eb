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
	# Newer s3fs caches missing names unless told not to; 1.90 (Debian 12)
	# does not cache them and knows no option for it.
	if s3fs --help 2>&1 | grep -q disable_noobj_cache; then
		o+=",disable_noobj_cache"
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
