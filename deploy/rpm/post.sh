# keyhatch's package: installing starts nothing (systemctl enable --now keyhatch, once the
# settings are checked). An upgrade ($1 = 2) restarts a running keyhatch on the new binary.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -ge 2 ]; then
        systemctl try-restart keyhatch.service >/dev/null 2>&1 || :
    fi
fi
