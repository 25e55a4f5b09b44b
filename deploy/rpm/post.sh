# keyhatch's package: installing starts nothing (systemctl enable --now keyhatch, once the
# settings are checked). An upgrade ($1 = 2) restarts a running keyhatch on the new binary.
# The account the health check's helper becomes, which no process runs as (README,
# health-account); made once, kept for an account of that name already there.
# A group keyhatch the site has already is not borrowed (nor taken away on purge). Without
# the account, the check becomes nobody, and keyhatch says so at start.
if ! getent passwd keyhatch >/dev/null; then
    group=--user-group
    getent group keyhatch >/dev/null && group="--gid 65534"
    useradd --system $group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin --comment "keyhatch health check" keyhatch ||
        echo "keyhatch: could not make the account keyhatch for the health check" >&2
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -ge 2 ]; then
        systemctl try-restart keyhatch.service >/dev/null 2>&1 || :
    fi
fi
