mkdir -p tree/sticky
chmod 4755 tree/suid
chmod 2711 tree/sgid
chmod 1777 tree/sticky
chmod 2775 tree
