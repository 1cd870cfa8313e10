"""What the Snakemake workflow needs besides the studies: config checks beyond its schema, and the
runtime of every job (device, threads, seeds, logging). Neither imports torch at module level."""
