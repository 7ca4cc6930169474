"""Line icons drawn for this app (24 px grid, 1.75 px stroke, currentColor)."""
