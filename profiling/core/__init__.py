"""The profiling core: plain Python, no Django, REST framework or Channels imports."""
