ln -s target.txt tree/rel-link
ln -s /etc/passwd tree/abs-link
ln -s ../../outside tree/dangling
ln -s tree/target.txt top-link
