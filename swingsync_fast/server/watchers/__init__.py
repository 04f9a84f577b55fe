"""Sockets that watch: coaching rooms and the monitor, each fed through a bounded ``outlet`` so a slow
watcher never stalls the frame path."""
