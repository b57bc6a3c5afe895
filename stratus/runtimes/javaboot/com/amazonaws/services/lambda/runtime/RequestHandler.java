// Stratus's own, API-compatible definition of the Lambda Java handler interface.
package com.amazonaws.services.lambda.runtime;

public interface RequestHandler<I, O> {
    O handleRequest(I input, Context context);
}
