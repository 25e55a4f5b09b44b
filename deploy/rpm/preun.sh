# Erasing keyhatch ($1 = 0, not an upgrade) stops and disables its service first.
if [ "$1" -eq 0 ]; then
    systemctl stop keyhatch.service >/dev/null 2>&1 || :
    systemctl disable --quiet keyhatch.service >/dev/null 2>&1 || :
fi
