#!/usr/bin/env bash
# The tools container's entry point (docker/compose.yaml, service tools):
# create the bucket, mount it at the lake root with s3fs, write the
# configuration the job reads, create or update the PostgreSQL schema, then
# run the command (cron in the foreground by default).
#
# From the environment: S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY,
# S3_SECRET_KEY; PGHOST, PGDATABASE, PGUSER, PG_PASSWORD;
# ALPHAVANTAGE_API_KEY.  Cron's jobs do not see this environment, so the
# secrets go to private files: the configuration (the API key), ~/.pgpass
# (the database password) and the s3fs passwd file.
# shellcheck source-path=SCRIPTDIR
set -eu
home=/srv/stocketl
lake=$home/lake
conf=$home/conf/stocketl.ini
# shellcheck source=../stack/s3fs-options.sh
source "$home/docker/s3fs-options.sh"

: "${S3_ENDPOINT:=http://minio:9000}" "${S3_BUCKET:=stocketl}"
: "${S3_ACCESS_KEY:?}" "${S3_SECRET_KEY:?}" "${PG_PASSWORD:?}"
: "${PGHOST:=postgres}" "${PGDATABASE:=stocketl}" "${PGUSER:=stocketl}"

umask 077
mkdir -p /run/stocketl
printf '%s:%s\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >/run/stocketl/s3-passwd
printf '%s:5432:%s:%s:%s\n' "$PGHOST" "$PGDATABASE" "$PGUSER" "$PG_PASSWORD" >"$HOME/.pgpass"

# The bucket: 200 made, 409 already there.
code=$(curl -s -o /dev/null -w '%{http_code}' --retry 10 --retry-connrefused \
	-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' --aws-sigv4 "aws:amz:us-east-1:s3" \
	--user "$S3_ACCESS_KEY:$S3_SECRET_KEY" -X PUT "$S3_ENDPOINT/$S3_BUCKET")
case $code in
200 | 409) ;;
*)
	echo "tools: cannot create the bucket $S3_BUCKET at $S3_ENDPOINT (HTTP $code)" >&2
	exit 69
	;;
esac

if ! mountpoint -q "$lake"; then
	s3fs "$S3_BUCKET" "$lake" \
		-o "$(s3fs_lake_options "$S3_ENDPOINT" "$S3_BUCKET" /run/stocketl/s3-passwd "$home/var/s3fs.log")"
fi

cat >"$conf" <<CONF
# Written by docker/tools.sh at each start of the container.
[API]
api_key = "${ALPHAVANTAGE_API_KEY:-demo}"
[storage]
lake = $lake
commit_store = postgres
[postgres]
dsn = "host=$PGHOST dbname=$PGDATABASE user=$PGUSER"
CONF

# The schema; the database may still be starting (75: try again).
for try in 1 2 3 4 5 6 7 8 9 10; do
	status=0
	stocketl-db --config "$conf" migrate || status=$?
	[ "$status" -ne 75 ] && break
	[ "$try" -lt 10 ] && sleep 3
done
[ "$status" -eq 0 ] || exit "$status"

exec "$@"
