"""The partner portal: server-rendered pages under /portal for people of partner companies (#25)."""
