chmod 0666 m.txt tree/x tree/y
