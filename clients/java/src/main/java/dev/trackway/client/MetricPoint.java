package dev.trackway.client;

/**
 * One point of a metric's history.
 *
 * @param step the training step
 * @param timestamp wall-clock time of the measurement in epoch milliseconds
 * @param value the value; NaN and infinities are allowed
 * @param worker the distributed worker that logged it, empty for none
 */
public record MetricPoint(long step, long timestamp, double value, String worker) {}
