// Stratus's runtime client for Java functions: the Lambda Runtime API loop. It loads the
// function's classes (/var/task, /var/task/lib/*.jar, /opt/java/lib/*.jar), resolves
// `package.Class::method` or `package.Class` handlers, converts JSON to and from the handler's
// declared types with Gson, and reports errors as Lambda's Java runtime does.
package dev.stratus.runtime;

import com.amazonaws.services.lambda.runtime.Client;
import com.amazonaws.services.lambda.runtime.ClientContext;
import com.amazonaws.services.lambda.runtime.CognitoIdentity;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.logging.LogLevel;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.ToNumberPolicy;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.net.HttpURLConnection;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class Bootstrap {
    private static String api = "http://" + System.getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/";
    // Numbers in untyped JSON become Long or Double, as Jackson (Lambda's own) gives integers.
    private static final Gson GSON = new GsonBuilder().serializeNulls()
            .setObjectToNumberStrategy(ToNumberPolicy.LONG_OR_DOUBLE).create();
    private static final PrintStream OUT = System.out;

    private Bootstrap() {}

    // -- the Runtime API ----------------------------------------------------------------------

    private static final class Reply {
        final Map<String, List<String>> headers;
        final byte[] body;

        Reply(Map<String, List<String>> headers, byte[] body) {
            this.headers = headers;
            this.body = body;
        }

        String header(String name) {
            for (Map.Entry<String, List<String>> e : headers.entrySet()) {
                if (e.getKey() != null && e.getKey().equalsIgnoreCase(name)) return e.getValue().get(0);
            }
            return null;
        }
    }

    private static Reply call(String method, String route, byte[] body, String errorType) throws Exception {
        HttpURLConnection conn = (HttpURLConnection) new URL(api + route).openConnection();
        conn.setRequestMethod(method);
        conn.setReadTimeout(0);
        if (body != null) {
            conn.setDoOutput(true);
            conn.setRequestProperty("Content-Type", "application/json");
            if (errorType != null) conn.setRequestProperty("Lambda-Runtime-Function-Error-Type", errorType);
            try (OutputStream os = conn.getOutputStream()) {
                os.write(body);
            }
        }
        int status = conn.getResponseCode();
        InputStream in = status < 400 ? conn.getInputStream() : conn.getErrorStream();
        byte[] data = in == null ? new byte[0] : in.readAllBytes();
        return new Reply(conn.getHeaderFields(), data);
    }

    static JsonObject errorDocument(Throwable error) {
        JsonObject doc = new JsonObject();
        doc.addProperty("errorMessage", error.getMessage() == null ? error.getClass().getName() : error.getMessage());
        doc.addProperty("errorType", error.getClass().getName());
        List<String> trace = new ArrayList<>();
        for (StackTraceElement element : error.getStackTrace()) trace.add(element.toString());
        doc.add("stackTrace", GSON.toJsonTree(trace));
        if (error.getCause() != null && error.getCause() != error) doc.add("cause", errorDocument(error.getCause()));
        return doc;
    }

    private static void initError(Throwable error, String message) {
        JsonObject doc = errorDocument(error);
        if (message != null) doc.addProperty("errorMessage", message);
        OUT.println(doc.get("errorMessage").getAsString() + ": " + error.getClass().getName());
        try {
            call("POST", "init/error", GSON.toJson(doc).getBytes(StandardCharsets.UTF_8), error.getClass().getName());
        } catch (Exception ignored) {
            // the exit is reported anyway
        }
        System.exit(1);
    }

    // -- loading the handler ------------------------------------------------------------------

    private static ClassLoader functionClassLoader() throws Exception {
        String taskRoot = System.getenv().getOrDefault("LAMBDA_TASK_ROOT", "/var/task");
        List<URL> urls = new ArrayList<>();
        urls.add(new File(taskRoot).toURI().toURL());
        for (String dir : new String[] {taskRoot + "/lib", "/opt/java/lib"}) {
            File[] jars = new File(dir).listFiles((d, name) -> name.endsWith(".jar"));
            if (jars != null) {
                Arrays.sort(jars);
                for (File jar : jars) urls.add(jar.toURI().toURL());
            }
        }
        return new URLClassLoader(urls.toArray(new URL[0]), Bootstrap.class.getClassLoader());
    }

    interface Invoker {
        byte[] invoke(byte[] event, Context context) throws Throwable;
    }

    private static Invoker loadHandler(String handler) throws Exception {
        String className = handler;
        String methodName = null;
        int sep = handler.indexOf("::");
        if (sep >= 0) {
            className = handler.substring(0, sep);
            methodName = handler.substring(sep + 2);
        }
        ClassLoader loader = functionClassLoader();
        Thread.currentThread().setContextClassLoader(loader);
        Class<?> cls;
        try {
            cls = Class.forName(className, true, loader);
        } catch (ClassNotFoundException e) {
            initError(e, "Class not found: " + className);
            return null;
        }
        if (methodName == null || methodName.equals("handleRequest")) {
            if (RequestStreamHandler.class.isAssignableFrom(cls)) {
                RequestStreamHandler target = (RequestStreamHandler) newInstance(cls);
                return (event, context) -> {
                    ByteArrayOutputStream out = new ByteArrayOutputStream();
                    target.handleRequest(new ByteArrayInputStream(event), out, context);
                    return out.toByteArray();
                };
            }
            if (methodName == null && !RequestHandler.class.isAssignableFrom(cls)) {
                initError(new NoSuchMethodException(className), "Class " + className
                        + " does not implement RequestHandler or RequestStreamHandler; name a method: " + className + "::method");
            }
            methodName = "handleRequest";
        }
        Method method = findMethod(cls, methodName);
        if (method == null) {
            initError(new NoSuchMethodException(methodName), "No public method named " + methodName
                    + " with appropriate method signature found on class " + className);
        }
        Object target = Modifier.isStatic(method.getModifiers()) ? null : newInstance(cls);
        Class<?>[] params = method.getParameterTypes();
        Type[] generic = method.getGenericParameterTypes();
        boolean stream = params.length >= 2 && InputStream.class.isAssignableFrom(params[0])
                && OutputStream.class.isAssignableFrom(params[1]);
        Type inputType = params.length == 0 ? null : resolve(cls, generic[0]);
        return (event, context) -> {
            Object[] args = new Object[params.length];
            if (stream) {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                args[0] = new ByteArrayInputStream(event);
                args[1] = out;
                if (params.length == 3) args[2] = context;
                call(method, target, args);
                return out.toByteArray();
            }
            if (params.length >= 1) args[0] = deserialize(event, inputType);
            if (params.length == 2) args[1] = context;
            Object result = call(method, target, args);
            return (method.getReturnType() == void.class ? "null" : GSON.toJson(result)).getBytes(StandardCharsets.UTF_8);
        };
    }

    private static Object call(Method method, Object target, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private static Object newInstance(Class<?> cls) throws Exception {
        try {
            return cls.getDeclaredConstructor().newInstance();
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Exception) throw (Exception) cause;
            throw e;
        }
    }

    // The handler method: public, named so, taking (input[, Context]) or (InputStream,
    // OutputStream[, Context]); a bridge method loses to the typed one it bridges.
    private static Method findMethod(Class<?> cls, String name) {
        Method best = null;
        for (Method m : cls.getMethods()) {
            if (!m.getName().equals(name) || !validSignature(m)) continue;
            if (best == null || (best.isBridge() && !m.isBridge()) || m.getParameterCount() > best.getParameterCount()) {
                best = m;
            }
        }
        return best;
    }

    private static boolean validSignature(Method m) {
        Class<?>[] p = m.getParameterTypes();
        switch (p.length) {
            case 0:
            case 1:
                return true;
            case 2:
                return Context.class.isAssignableFrom(p[1])
                        || (InputStream.class.isAssignableFrom(p[0]) && OutputStream.class.isAssignableFrom(p[1]));
            case 3:
                return InputStream.class.isAssignableFrom(p[0]) && OutputStream.class.isAssignableFrom(p[1])
                        && Context.class.isAssignableFrom(p[2]);
            default:
                return false;
        }
    }

    // RequestHandler<I, O>'s I, as the class binds it, where the method only says Object.
    private static Type resolve(Class<?> cls, Type declared) {
        if (declared != Object.class) return declared;
        for (Class<?> c = cls; c != null; c = c.getSuperclass()) {
            for (Type t : c.getGenericInterfaces()) {
                if (t instanceof ParameterizedType && ((ParameterizedType) t).getRawType() == RequestHandler.class) {
                    return ((ParameterizedType) t).getActualTypeArguments()[0];
                }
            }
        }
        return declared;
    }

    private static Object deserialize(byte[] event, Type type) {
        String text = new String(event, StandardCharsets.UTF_8);
        if (type == Object.class) {
            JsonElement tree = JsonParser.parseString(text.isEmpty() ? "null" : text);
            return GSON.fromJson(tree, tree.isJsonObject() ? Map.class : tree.isJsonArray() ? List.class : Object.class);
        }
        return GSON.fromJson(text, type);
    }

    // -- the context --------------------------------------------------------------------------

    // LoggingConfig: under LogFormat JSON each message is one JSON object, and messages below
    // ApplicationLogLevel (AWS_LAMBDA_LOG_LEVEL) are dropped; in Text a level is a "[LEVEL] "
    // prefix and nothing is filtered.
    private static final boolean JSON_LOGS = "JSON".equals(System.getenv("AWS_LAMBDA_LOG_FORMAT"));
    private static final LogLevel MIN_LEVEL =
            JSON_LOGS ? LogLevel.fromString(System.getenv("AWS_LAMBDA_LOG_LEVEL"), LogLevel.INFO) : LogLevel.UNDEFINED;
    private static volatile String currentRequestId;

    private static final class Logger implements LambdaLogger {
        public void log(String message) {
            log(message, LogLevel.UNDEFINED);
        }

        public void log(byte[] message) {
            log(message, LogLevel.UNDEFINED);
        }

        public void log(byte[] message, LogLevel level) {
            log(new String(message, StandardCharsets.UTF_8), level);
        }

        // Each call is one log event, as on Lambda: a line of its own, with the message's own
        // line breaks kept inside it as carriage returns (as the Node client does).
        public void log(String message, LogLevel level) {
            if (level != LogLevel.UNDEFINED && level.compareTo(MIN_LEVEL) < 0) return;
            if (message.endsWith("\n")) message = message.substring(0, message.length() - 1);
            if (JSON_LOGS) {
                Map<String, Object> entry = new LinkedHashMap<>();
                entry.put("timestamp", java.time.Instant.now().toString());
                entry.put("level", level.name());
                entry.put("message", message);
                entry.put("AWSRequestId", currentRequestId);
                OUT.print(GSON.toJson(entry) + "\n");
            } else {
                String text = message.replace("\n", "\r");
                OUT.print((level == LogLevel.UNDEFINED ? text : "[" + level + "] " + text) + "\n");
            }
            OUT.flush();
        }
    }

    private static final LambdaLogger LOGGER = new Logger();

    private static Context contextFor(Reply next) {
        String requestId = next.header("Lambda-Runtime-Aws-Request-Id");
        String arn = next.header("Lambda-Runtime-Invoked-Function-Arn");
        long deadline = Long.parseLong(next.header("Lambda-Runtime-Deadline-Ms"));
        String clientContextJson = next.header("Lambda-Runtime-Client-Context");
        String identityJson = next.header("Lambda-Runtime-Cognito-Identity");
        ClientContext clientContext = clientContextJson == null ? null : clientContext(clientContextJson);
        CognitoIdentity identity = identity(identityJson);
        return new Context() {
            public String getAwsRequestId() { return requestId; }
            public String getLogGroupName() { return System.getenv("AWS_LAMBDA_LOG_GROUP_NAME"); }
            public String getLogStreamName() { return System.getenv("AWS_LAMBDA_LOG_STREAM_NAME"); }
            public String getFunctionName() { return System.getenv("AWS_LAMBDA_FUNCTION_NAME"); }
            public String getFunctionVersion() { return System.getenv("AWS_LAMBDA_FUNCTION_VERSION"); }
            public String getInvokedFunctionArn() { return arn; }
            public CognitoIdentity getIdentity() { return identity; }
            public ClientContext getClientContext() { return clientContext; }
            public int getRemainingTimeInMillis() { return (int) Math.max(0, deadline - System.currentTimeMillis()); }
            public int getMemoryLimitInMB() { return Integer.parseInt(System.getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")); }
            public LambdaLogger getLogger() { return LOGGER; }
        };
    }

    @SuppressWarnings("unchecked")
    private static ClientContext clientContext(String json) {
        Map<String, Object> data = GSON.fromJson(json, Map.class);
        Map<String, String> client = (Map<String, String>) data.getOrDefault("client", Map.of());
        Map<String, String> custom = (Map<String, String>) data.getOrDefault("custom", Map.of());
        Map<String, String> env = (Map<String, String>) data.getOrDefault("env", Map.of());
        Client c = new Client() {
            public String getInstallationId() { return client.get("installation_id"); }
            public String getAppTitle() { return client.get("app_title"); }
            public String getAppVersionName() { return client.get("app_version_name"); }
            public String getAppVersionCode() { return client.get("app_version_code"); }
            public String getAppPackageName() { return client.get("app_package_name"); }
        };
        return new ClientContext() {
            public Client getClient() { return c; }
            public Map<String, String> getCustom() { return custom; }
            public Map<String, String> getEnvironment() { return env; }
        };
    }

    @SuppressWarnings("unchecked")
    private static CognitoIdentity identity(String json) {
        Map<String, String> data = json == null ? Map.of() : GSON.fromJson(json, Map.class);
        return new CognitoIdentity() {
            public String getIdentityId() { return data.getOrDefault("cognitoIdentityId", ""); }
            public String getIdentityPoolId() { return data.getOrDefault("cognitoIdentityPoolId", ""); }
        };
    }

    // Used once at install, to record in a CDS archive the classes a start and an invoke load:
    // JSON, reflection, class loading and one Runtime API exchange against a local stand-in.
    private static void warm() throws Exception {
        GSON.toJson(GSON.fromJson("{\"a\":[1,\"b\",{\"c\":null}]}", Map.class));
        errorDocument(new RuntimeException("warm"));
        functionClassLoader();
        resolve(Bootstrap.class, Object.class);
        try (java.net.ServerSocket server = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            Thread answer = new Thread(() -> {
                for (int i = 0; i < 2; i++) {
                    try (java.net.Socket s = server.accept()) {
                        s.getInputStream().read(new byte[4096]);
                        s.getOutputStream().write(("HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: x\r\n"
                                + "Lambda-Runtime-Deadline-Ms: 1\r\nContent-Length: 2\r\n\r\n{}").getBytes(StandardCharsets.UTF_8));
                    } catch (Exception ignored) {
                        return;
                    }
                }
            });
            answer.start();
            api = "http://127.0.0.1:" + server.getLocalPort() + "/2018-06-01/runtime/";
            Reply next = call("GET", "invocation/next", null, null);
            contextFor(next).getRemainingTimeInMillis();
            call("POST", "invocation/x/response", "{}".getBytes(StandardCharsets.UTF_8), null);
            answer.join(2000);
        }
    }

    // -- the loop -----------------------------------------------------------------------------

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--warm")) {
            warm();
            return;
        }
        if (args.length > 1 && args[0].equals("--train")) {
            // At deploy, for the function's own archive: load its handler, and what a call needs.
            warm();
            loadHandler(args[1]);
            return;
        }
        Invoker invoker = null;
        try {
            invoker = loadHandler(System.getenv().getOrDefault("_HANDLER", ""));
        } catch (Throwable error) {
            initError(error, null);
        }
        for (;;) {
            Reply next = call("GET", "invocation/next", null, null);
            String requestId = next.header("Lambda-Runtime-Aws-Request-Id");
            currentRequestId = requestId;
            String trace = next.header("Lambda-Runtime-Trace-Id");
            if (trace != null) System.setProperty("com.amazonaws.xray.traceHeader", trace);
            Context context = contextFor(next);
            try {
                byte[] result = invoker.invoke(next.body, context);
                call("POST", "invocation/" + requestId + "/response", result, null);
            } catch (Throwable error) {
                JsonObject doc = errorDocument(error);
                OUT.println(GSON.toJson(doc));
                call("POST", "invocation/" + requestId + "/error", GSON.toJson(doc).getBytes(StandardCharsets.UTF_8),
                        error.getClass().getName());
            }
        }
    }
}
