if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
# Erased (not upgraded): the health check's account goes too.
if [ "$1" -eq 0 ]; then
    # The health check's account, only if the package made it (its comment says so), and its
    # group only if that is the account's own, with no members (never a site's group).
    entry=$(getent passwd keyhatch || true)
    if [ "$(echo "$entry" | cut -d: -f5)" = "keyhatch health check" ]; then
        gid=$(echo "$entry" | cut -d: -f4)
        group=$(getent group keyhatch || true)
        userdel keyhatch >/dev/null 2>&1 || true
        if [ -n "$group" ] && [ "$(echo "$group" | cut -d: -f3)" = "$gid" ] &&
            [ -z "$(echo "$group" | cut -d: -f4)" ]; then
            groupdel keyhatch >/dev/null 2>&1 || true
        fi
    fi
fi
