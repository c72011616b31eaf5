"""Detection quality: labels, event-level metrics, statistics and the experiment report."""
