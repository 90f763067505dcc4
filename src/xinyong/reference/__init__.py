"""Reference data (基础数据) that every room reads: region codes and names. It imports nothing
of ours, so any room may import it."""
