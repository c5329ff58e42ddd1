chmod 0750 tree/sub
chmod 0600 tree/one
mkdir -p tree/empty
