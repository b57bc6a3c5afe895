// Stratus's own, API-compatible definition of the Lambda Java logger interface.
package com.amazonaws.services.lambda.runtime;

import com.amazonaws.services.lambda.runtime.logging.LogLevel;

public interface LambdaLogger {
    void log(String message);

    void log(byte[] message);

    /** A message at a level: filtered by ApplicationLogLevel and tagged with it (LoggingConfig). */
    default void log(String message, LogLevel logLevel) {
        log(message);
    }

    default void log(byte[] message, LogLevel logLevel) {
        log(message);
    }
}
