if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
# Erased (not upgraded): the health check's account goes too.
if [ "$1" -eq 0 ]; then
    # The health check's account, only if the package made it (its comment says so).
    if [ "$(getent passwd keyhatch | cut -d: -f5)" = "keyhatch health check" ]; then
        userdel keyhatch >/dev/null 2>&1 || true
        groupdel keyhatch >/dev/null 2>&1 || true
    fi
fi
