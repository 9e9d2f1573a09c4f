package org.deephash.model;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;

import org.deephash.model.ModelConfig.EntryPoint;

import java.io.IOException;
import java.io.ByteArrayInputStream;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A loaded hashing model: one ONNX Runtime session per entry point (image, text, fused), created once
 * and shared by every caller. ONNX Runtime's {@code run} is thread-safe, so concurrent calls need no
 * locking of their own; a read-write lock only keeps {@link #close()} from freeing a session that a
 * call is still using.
 *
 * <p>Pictures reach the image and fused entry points as {@link ImagePreprocessor} makes them, or, in a
 * model with an {@code image_encoder}, as that frozen encoder's features ({@link ImageEncoder}): the
 * encoder session runs first, once for all the entry points of a call, and its rows go to the heads.
 *
 * <p>Texts reach the text and fused entry points as the model's text encoder wants them (see
 * {@link ModelConfig}): word ids from {@link WordTokenizer}, or sentence embeddings from one
 * {@link SentenceEncoder} session (the bundled {@link MiniLmEncoder}, or the model's own {@code onnx}
 * encoder) that the model's entry points share, created with the model.
 *
 * <p>Each session (the encoders' too) runs its operators on the calling thread plus at most
 * {@code intraOpThreads - 1} pool threads (default 1: the caller only, so a busy ingest node never has
 * more inference threads than callers), one operator at a time (inter-op 1), and the pool does not
 * spin while idle.
 *
 * <p>Each ONNX file is read into memory, checked against the SHA-256 in model.json once more (the bytes
 * the session gets are the bytes that were checked), and its inputs and outputs are compared with
 * model.json: a mismatch is an {@link IllegalArgumentException} at load, not at the first document.
 */
public final class HashModel implements AutoCloseable {
    public static final int DEFAULT_INTRA_OP_THREADS = 1;
    /** Far above what a model's input needs; a guard against a typo, not a tuning knob. */
    public static final int MAX_INTRA_OP_THREADS = 64;
    /** Far more than a caption needs (the MiniLM encoder reads 126 word pieces at most); a guard against a document's whole body. */
    public static final int DEFAULT_MAX_TEXT_CHARS = 10_000;

    private final ModelConfig config;
    private final float threshold;
    private final ImagePreprocessor images;
    private final WordTokenizer tokenizer;
    private final OrtEnvironment env;
    private final SentenceEncoder sentenceEncoder;
    private final ImageEncoder imageEncoder;
    private final Map<EntryPoint, OrtSession> sessions = new EnumMap<>(EntryPoint.class);
    private final Set<String> outputNames;
    private final ReadWriteLock lock = new ReentrantReadWriteLock();
    private final int maxTextChars;
    private final SentenceCache sentenceCache;
    private boolean closed;

    /** Loads {@code directory} with one intra-op thread and the default image limits. */
    public static HashModel load(Path directory) {
        return new HashModel(
            ModelConfig.load(directory),
            DEFAULT_INTRA_OP_THREADS,
            ImagePreprocessor.DEFAULT_MAX_BYTES,
            ImagePreprocessor.DEFAULT_MAX_PIXELS
        );
    }

    public HashModel(ModelConfig config, int intraOpThreads, long maxImageBytes, long maxImagePixels) {
        this(config, new Options(intraOpThreads, maxImageBytes, maxImagePixels, DEFAULT_MAX_TEXT_CHARS, null));
    }

    /**
     * How a model runs: threads per inference, the image and text limits, and an optional cache of
     * sentence embeddings (captions and keywords repeat; the sentence encoder is most of a text's cost).
     */
    public record Options(int intraOpThreads, long maxImageBytes, long maxImagePixels, int maxTextChars, SentenceCache sentenceCache) {
        public Options {
            if (maxTextChars < 1) {
                throw new IllegalArgumentException("the text limit must be at least 1 character but was [" + maxTextChars + "]");
            }
        }
    }

    /** Sentence embeddings remembered by text. Implementations must be thread-safe and must not change what they return. */
    public interface SentenceCache {
        /** The embedding stored for {@code text}, or null. */
        float[] get(String text);

        void put(String text, float[] embedding);
    }

    public HashModel(ModelConfig config, Options settings) {
        int intraOpThreads = settings.intraOpThreads();
        long maxImageBytes = settings.maxImageBytes();
        long maxImagePixels = settings.maxImagePixels();
        this.maxTextChars = settings.maxTextChars();
        this.sentenceCache = settings.sentenceCache();
        if (intraOpThreads < 1 || intraOpThreads > MAX_INTRA_OP_THREADS) {
            throw new IllegalArgumentException(
                "intra-op threads must be from 1 to " + MAX_INTRA_OP_THREADS + " but was [" + intraOpThreads + "]"
            );
        }
        this.config = config;
        // The training side compares float32 probabilities with the threshold in float32.
        this.threshold = (float) config.threshold();
        this.images = config.image() == null ? null : new ImagePreprocessor(config.image(), maxImageBytes, maxImagePixels);
        TokenizerSpec t = config.tokenizer();
        this.tokenizer = t == null ? null : new WordTokenizer(t.vocabulary(), t.maxTokens(), t.padId(), t.unkId());
        this.outputNames = Set.of(config.probsOutput(), config.embeddingOutput());
        this.env = environment();
        try (OrtSession.SessionOptions options = sessionOptions(intraOpThreads)) {
            sentenceEncoder = config.takesText() ? createSentenceEncoder(options) : null;
            ImageEncoderSpec encoder = config.imageEncoder();
            imageEncoder = encoder != null && config.takesImages()
                ? new ImageEncoder(env, readChecked(encoder.file()), fileLabel(encoder.file()), encoder, config.image().size(), options)
                : null;
            for (Map.Entry<EntryPoint, String> e : config.entryPoints().entrySet()) {
                OrtSession session = createSession(e.getValue(), options);
                sessions.put(e.getKey(), session);
                checkSignature(e.getKey(), e.getValue(), session);
            }
        } catch (OrtException e) {
            closeAfterFailure(e);
            throw new IllegalArgumentException("cannot set up ONNX Runtime for model [" + config.name() + "]: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeAfterFailure(e);
            throw e;
        }
    }

    private void closeAfterFailure(Exception cause) {
        try {
            closeSessions();
        } catch (RuntimeException e) {
            cause.addSuppressed(e);
        }
    }

    private static OrtEnvironment environment() {
        try {
            return OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING, "deep-hash");
        } catch (LinkageError e) {
            throw new IllegalStateException(
                "cannot load ONNX Runtime's native library (it is extracted from the onnxruntime jar to java.io.tmpdir): " + e,
                e
            );
        }
    }

    private static OrtSession.SessionOptions sessionOptions(int intraOpThreads) throws OrtException {
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        try {
            options.setIntraOpNumThreads(intraOpThreads);
            options.setInterOpNumThreads(1);
            options.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            // An idle pool thread would otherwise spin for a while after each call, taking a core from the node.
            options.addConfigEntry("session.intra_op.allow_spinning", "0");
            options.addConfigEntry("session.inter_op.allow_spinning", "0");
            return options;
        } catch (OrtException | RuntimeException e) {
            options.close();
            throw e;
        }
    }

    private OrtSession createSession(String file, OrtSession.SessionOptions options) {
        byte[] bytes = readChecked(file);
        try {
            return env.createSession(bytes, options);
        } catch (OrtException e) {
            throw new IllegalArgumentException(
                "ONNX Runtime cannot load [" + config.directory().resolve(file) + "] of model [" + config.name() + "]: " + e.getMessage()
                    + "; expected an ONNX model",
                e
            );
        }
    }

    /** A file of the model directory, read whole and checked against model.json's SHA-256 once more. */
    private byte[] readChecked(String file) {
        Path path = config.directory().resolve(file);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(path);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read [" + path + "] of model [" + config.name() + "]: " + e, e);
        }
        String expected = config.sha256().get(file);
        String actual = Checksums.sha256(bytes);
        if (actual.equals(expected) == false) {
            throw new IllegalArgumentException(
                "SHA-256 mismatch for [" + file + "] of model [" + config.name() + "]: expected [" + expected + "] but the file has [" + actual
                    + "]; it changed after model.json was checked"
            );
        }
        return bytes;
    }

    private String fileLabel(String file) {
        return "[" + file + "] of model [" + config.name() + "]";
    }

    /**
     * The frozen sentence encoder of the text tower, or null for the LSTM one: the bundled MiniLM, or the
     * model's own graph and tokenizer.json, whose bytes are checked against model.json once more.
     */
    private SentenceEncoder createSentenceEncoder(OrtSession.SessionOptions options) throws OrtException {
        if (config.miniLm() != null) {
            return MiniLmEncoder.open(config.miniLm(), env, options, " of model [" + config.name() + "]");
        }
        OnnxTextEncoderSpec spec = config.onnxTextEncoder();
        if (spec == null) {
            return null;
        }
        WordPieceTokenizer wordPiece;
        try {
            wordPiece = WordPieceTokenizer.load(new ByteArrayInputStream(readChecked(spec.tokenizerFile())));
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read [" + spec.tokenizerFile() + "] of model [" + config.name() + "]: " + e, e);
        }
        return new SentenceEncoder(
            env,
            readChecked(spec.file()),
            fileLabel(spec.file()),
            wordPiece,
            spec.maxTokens(),
            spec.dimensions(),
            spec.pooling(),
            spec.normalize(),
            spec.embedAlone(),
            options
        );
    }

    /** The session's inputs and outputs must be the ones model.json describes, with matching widths. */
    private void checkSignature(EntryPoint entry, String file, OrtSession session) throws OrtException {
        Map<String, NodeInfo> inputs = session.getInputInfo();
        List<String> expected = config.inputs(entry);
        if (inputs.keySet().equals(new TreeSet<>(expected)) == false) {
            throw signatureError(file, "takes the inputs " + new TreeSet<>(inputs.keySet()) + " but the " + entry.jsonName() + " entry point needs " + expected);
        }
        if (entry.takesImage() && config.imageEncoder() != null) {
            int d = config.imageEncoder().dimensions();
            checkTensor(file, "input", inputs.get(ModelConfig.IMAGE_FEATURES_INPUT), OnnxJavaType.FLOAT, new long[] { -1, d });
        } else if (entry.takesImage()) {
            int s = config.image().size();
            checkTensor(file, "input", inputs.get(ModelConfig.IMAGE_INPUT), OnnxJavaType.FLOAT, new long[] { -1, 3, s, s });
        }
        if (entry.takesText() && tokenizer != null) {
            checkTensor(file, "input", inputs.get(ModelConfig.TOKENS_INPUT), OnnxJavaType.INT64, new long[] { -1, tokenizer.maxTokens() });
        }
        if (entry.takesText() && sentenceEncoder != null) {
            NodeInfo input = inputs.get(ModelConfig.SENTENCE_EMBEDDING_INPUT);
            checkTensor(file, "input", input, OnnxJavaType.FLOAT, new long[] { -1, sentenceEncoder.dimensions() });
        }
        Map<String, NodeInfo> outputs = session.getOutputInfo();
        for (String name : outputNames) {
            if (outputs.containsKey(name) == false) {
                throw signatureError(file, "has no output [" + name + "] (named in model.json's [outputs]); its outputs are " + new TreeSet<>(outputs.keySet()));
            }
        }
        checkTensor(file, "output", outputs.get(config.probsOutput()), OnnxJavaType.FLOAT, new long[] { -1, config.bits() });
        checkTensor(file, "output", outputs.get(config.embeddingOutput()), OnnxJavaType.FLOAT, new long[] { -1, config.embeddingDim() });
    }

    /** Checks type and rank, and every dimension that is fixed on both sides (-1: any). */
    private void checkTensor(String file, String kind, NodeInfo node, OnnxJavaType type, long[] expected) {
        if (node.getInfo() instanceof TensorInfo == false) {
            throw signatureError(file, "has a non-tensor " + kind + " [" + node.getName() + "]: expected a tensor");
        }
        TensorInfo info = (TensorInfo) node.getInfo();
        long[] shape = info.getShape();
        boolean ok = info.type == type && shape.length == expected.length;
        for (int i = 0; ok && i < shape.length; i++) {
            ok = expected[i] < 0 || shape[i] < 0 || expected[i] == shape[i];
        }
        if (ok == false) {
            throw signatureError(
                file,
                "has the " + kind + " [" + node.getName() + "] of type " + info.type + " and shape " + Arrays.toString(shape) + " but model.json needs "
                    + type + " " + Arrays.toString(expected).replace("-1", "N")
            );
        }
    }

    private IllegalArgumentException signatureError(String file, String what) {
        return new IllegalArgumentException(fileLabel(file) + " " + what);
    }

    public ModelConfig config() {
        return config;
    }

    public String name() {
        return config.name();
    }

    public int bits() {
        return config.bits();
    }

    public int embeddingDim() {
        return config.embeddingDim();
    }

    public boolean has(EntryPoint entryPoint) {
        return config.has(entryPoint);
    }

    /** The word tokenizer, or null when the model takes no text or its text encoder is not LSTM. */
    public WordTokenizer tokenizer() {
        return tokenizer;
    }

    /**
     * The frozen sentence encoder shared by the text and fused entry points, or null when the model
     * takes no text or its text encoder is LSTM. Its {@link SentenceEncoder#tokenIds} are the
     * WordPiece ids of a text; use {@link #sentenceEmbeddings} for its embeddings, which keeps
     * {@link #close()} waiting.
     */
    public SentenceEncoder sentenceEncoder() {
        return sentenceEncoder;
    }

    /** The image preprocessor, or null when the model takes no images. */
    public ImagePreprocessor imagePreprocessor() {
        return images;
    }

    /** The frozen picture encoder run before the image and fused heads, or null when the model has none or takes no images. */
    public ImageEncoder imageEncoder() {
        return imageEncoder;
    }

    /**
     * What the image and fused heads of a model with an image encoder get for each picture: the encoder's
     * feature row, {@code image_encoder.dimensions} floats.
     */
    public float[][] imageFeatures(List<byte[]> imageBytes) {
        if (imageEncoder == null) {
            throw new IllegalArgumentException(
                config.takesImages()
                    ? "model [" + config.name() + "] has no image encoder: its image and fused entry points take the pictures themselves"
                    : "model [" + config.name() + "] takes no images: it has no image or fused entry point"
            );
        }
        float[] pixels = imageTensor(imageBytes);
        int n = imageBytes.size();
        int d = imageEncoder.dimensions();
        lock.readLock().lock();
        try {
            checkOpen();
            float[] rows = imageEncoder.encode(pixels, n);
            float[][] out = new float[n][];
            for (int i = 0; i < n; i++) {
                out[i] = Arrays.copyOfRange(rows, i * d, (i + 1) * d);
            }
            return out;
        } catch (OrtException e) {
            throw encoderFailure(e);
        } finally {
            lock.readLock().unlock();
        }
    }

    private IllegalStateException encoderFailure(OrtException e) {
        return new IllegalStateException("inference failed in the image encoder of model [" + config.name() + "]: " + e.getMessage(), e);
    }

    /** Hashes images (PNG, JPEG, GIF or BMP bytes) with the image entry point; one output per image, in order. */
    public List<HashOutput> hashImages(List<byte[]> imageBytes) {
        return run(EntryPoint.IMAGE, imageBytes.size(), imageTensor(imageBytes), null);
    }

    /** Hashes texts with the text entry point; one output per text, in order. */
    public List<HashOutput> hashTexts(List<String> texts) {
        checkTexts(texts);
        return run(EntryPoint.TEXT, texts.size(), null, texts);
    }

    /** What a sentence-embedding text tower gets for each text: its sentence embedding ({@link SentenceEncoder#dimensions()} floats). */
    public float[][] sentenceEmbeddings(List<String> texts) {
        if (sentenceEncoder == null) {
            throw new IllegalArgumentException(
                "model [" + config.name() + "] has no sentence encoder: its text encoder is [" + config.textEncoder().jsonName() + "]"
                    + (has(EntryPoint.TEXT) || has(EntryPoint.FUSED) ? "" : " and it takes no text")
            );
        }
        checkTexts(texts);
        lock.readLock().lock();
        try {
            checkOpen();
            return embed(texts);
        } catch (OrtException e) {
            throw new IllegalStateException("inference failed in the sentence encoder of model [" + config.name() + "]: " + e.getMessage(), e);
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Hashes (image, text) pairs with the fused entry point: {@code images.get(i)} goes with {@code texts.get(i)}. */
    public List<HashOutput> hashFused(List<byte[]> imageBytes, List<String> texts) {
        if (imageBytes.size() != texts.size()) {
            throw new IllegalArgumentException(
                "the fused entry point takes (image, text) pairs but got " + imageBytes.size() + " images and " + texts.size() + " texts"
            );
        }
        checkTexts(texts);
        return run(EntryPoint.FUSED, texts.size(), imageTensor(imageBytes), texts);
    }

    /** The floats of one preprocessed picture; the model must take pictures. */
    private int checkedImageLength() {
        if (images == null) {
            throw new IllegalArgumentException("model [" + config.name() + "] takes no images: it has no [image] settings");
        }
        return images.tensorLength();
    }

    private float[] imageTensor(List<byte[]> imageBytes) {
        int length = checkedImageLength();
        float[] tensor = new float[imageBytes.size() * length];
        for (int i = 0; i < imageBytes.size(); i++) {
            try {
                images.preprocess(imageBytes.get(i), tensor, i * length);
            } catch (InputException e) {
                throw imageBytes.size() == 1 ? e : e.withPrefix("image [" + i + "]: ");
            } catch (IllegalArgumentException e) {
                throw imageBytes.size() == 1 ? e : new IllegalArgumentException("image [" + i + "]: " + e.getMessage(), e);
            }
        }
        return tensor;
    }

    private void checkTexts(List<String> texts) {
        for (int i = 0; i < texts.size(); i++) {
            checkText(texts.get(i), texts.size() == 1 ? -1 : i);
        }
    }

    /** A text must be there and within the limit; {@code index} names it in messages, or -1 for "the text". */
    private void checkText(String text, int index) {
        if (tokenizer == null && sentenceEncoder == null) {
            throw new IllegalArgumentException("model [" + config.name() + "] takes no text: it has no text or fused entry point");
        }
        if (text == null) {
            throw new InputException(InputException.Kind.MISSING_INPUT, (index < 0 ? "the text" : "text [" + index + "]") + " is null: expected a string");
        }
        if (text.length() > maxTextChars) {
            throw new InputException(
                InputException.Kind.TEXT_TOO_LONG,
                (index < 0 ? "the text" : "text [" + index + "]") + " is [" + text.length() + "] characters, over the limit of ["
                    + maxTextChars + "]: send the caption or keywords, not the whole document"
            );
        }
    }

    /** The text input of {@code texts}, [N, max_tokens] word ids or [N, 384] sentence embeddings; call under the read lock. */
    private OnnxTensor textTensor(List<String> texts) throws OrtException {
        int n = texts.size();
        if (tokenizer != null) {
            int length = tokenizer.maxTokens();
            long[] tensor = new long[n * length];
            for (int i = 0; i < n; i++) {
                tokenizer.tokenize(texts.get(i), tensor, i * length);
            }
            return OnnxTensor.createTensor(env, LongBuffer.wrap(tensor), new long[] { n, length });
        }
        float[][] embeddings = embed(texts);
        int d = sentenceEncoder.dimensions();
        float[] tensor = new float[n * d];
        for (int i = 0; i < n; i++) {
            System.arraycopy(embeddings[i], 0, tensor, i * d, d);
        }
        return OnnxTensor.createTensor(env, FloatBuffer.wrap(tensor), new long[] { n, d });
    }

    /** Sentence embeddings through the cache, if any: only the texts it lacks go to the encoder, in one batch. */
    private float[][] embed(List<String> texts) throws OrtException {
        if (sentenceCache == null) {
            return sentenceEncoder.embed(texts);
        }
        float[][] out = new float[texts.size()][];
        List<String> missing = new ArrayList<>();
        List<Integer> where = new ArrayList<>();
        for (int i = 0; i < out.length; i++) {
            float[] cached = sentenceCache.get(texts.get(i));
            if (cached == null) {
                missing.add(texts.get(i));
                where.add(i);
            } else {
                out[i] = cached.clone();
            }
        }
        if (missing.isEmpty() == false) {
            float[][] computed = sentenceEncoder.embed(missing);
            for (int j = 0; j < computed.length; j++) {
                out[where.get(j)] = computed[j];
                sentenceCache.put(missing.get(j), computed[j].clone());
            }
        }
        return out;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("model [" + config.name() + "] is closed");
        }
    }

    private List<HashOutput> run(EntryPoint entry, int n, float[] imageTensor, List<String> texts) {
        return n == 0 ? List.of() : runEach(EnumSet.of(entry), n, imageTensor, texts, null).get(entry);
    }

    /**
     * Hashes one document's picture and caption (either may be null) with each entry point in
     * {@code entryPoints} that its inputs allow, decoding the picture and encoding the caption once for
     * all of them (a pipeline that writes the fused and the per-modality codes pays for one sentence encoder pass,
     * not two).
     */
    public Map<EntryPoint, HashOutput> hashEach(byte[] image, String text, Set<EntryPoint> entryPoints) {
        return hashEach(image, text, entryPoints, null);
    }

    /** {@link #hashEach(byte[], String, Set)}, with each entry point's time put into {@code nanos} as {@link #hashBatch} does. */
    public Map<EntryPoint, HashOutput> hashEach(byte[] image, String text, Set<EntryPoint> entryPoints, Map<EntryPoint, Long> nanos) {
        Set<EntryPoint> runnable = EnumSet.noneOf(EntryPoint.class);
        for (EntryPoint entry : entryPoints) {
            if ((entry.takesImage() == false || image != null) && (entry.takesText() == false || text != null)) {
                runnable.add(entry);
            }
        }
        Item item = hashBatch(image == null ? null : List.of(image), text == null ? null : List.of(text), runnable, nanos).get(0);
        if (item.failure() != null) {
            throw item.failure();
        }
        return item.outputs();
    }

    /** One input's outcome in {@link #hashBatch}: its output per entry point, or why it could not be hashed. */
    public record Item(Map<EntryPoint, HashOutput> outputs, RuntimeException failure) {}

    /**
     * Hashes a batch of inputs with every entry point of {@code entryPoints}, each entry point in one
     * ONNX Runtime call over the whole batch: {@code images} (null when no entry point takes a picture)
     * and {@code texts} (null when none takes a text) hold item {@code i}'s picture and caption at
     * {@code i}. Each picture is decoded and each caption checked on its own, so a corrupt picture or a
     * text over the limit fails its own item (with the message it would get alone) and the others are
     * hashed; the sentence encoder runs once over the batch's captions, padded to the longest. A failure
     * of the inference itself fails every item that reached it. Outputs are the ones each input gets
     * alone: the graphs treat the rows of a batch independently.
     */
    public List<Item> hashBatch(List<byte[]> pictures, List<String> texts, Set<EntryPoint> entryPoints) {
        return hashBatch(pictures, texts, entryPoints, null);
    }

    /**
     * {@link #hashBatch(List, List, Set)}, putting into {@code nanos} (if not null) how long each entry point
     * took: its own ONNX Runtime call, and the shared inputs it was the first to need (the sentence encoder
     * goes to the first entry point that takes text, in {@link EntryPoint} order: text before fused).
     * Decoding the pictures is counted in none.
     */
    public List<Item> hashBatch(List<byte[]> pictures, List<String> texts, Set<EntryPoint> entryPoints, Map<EntryPoint, Long> nanos) {
        boolean needsImage = entryPoints.stream().anyMatch(EntryPoint::takesImage);
        boolean needsText = entryPoints.stream().anyMatch(EntryPoint::takesText);
        if (needsImage != (pictures != null) || needsText != (texts != null)) {
            throw new IllegalArgumentException(
                "the entry points " + entryPoints.stream().map(EntryPoint::jsonName).toList() + " take "
                    + (needsImage && needsText ? "pictures and texts" : needsImage ? "pictures only" : needsText ? "texts only" : "nothing")
                    + " but got " + (pictures == null ? "no" : "") + " pictures and " + (texts == null ? "no" : "") + " texts"
            );
        }
        int n = pictures != null ? pictures.size() : texts != null ? texts.size() : 0;
        if ((pictures != null && pictures.size() != n) || (texts != null && texts.size() != n)) {
            throw new IllegalArgumentException("a batch pairs pictures with texts but got " + pictures.size() + " pictures and " + texts.size() + " texts");
        }
        RuntimeException[] failures = new RuntimeException[n];
        int length = needsImage ? checkedImageLength() : 0;
        float[] pixels = needsImage ? new float[n * length] : null;
        List<String> kept = needsText ? new ArrayList<>(n) : null;
        int m = 0;
        for (int i = 0; i < n; i++) {
            try {
                if (needsText) {
                    checkText(texts.get(i), -1);
                }
                if (needsImage) {
                    images.preprocess(pictures.get(i), pixels, m * length);
                }
            } catch (RuntimeException e) {
                failures[i] = e;
                continue;
            }
            if (needsText) {
                kept.add(texts.get(i));
            }
            m++;
        }
        Map<EntryPoint, List<HashOutput>> outputs = Map.of();
        RuntimeException inferenceFailure = null;
        if (m > 0 && entryPoints.isEmpty() == false) {
            try {
                outputs = runEach(entryPoints, m, pixels == null || m == n ? pixels : Arrays.copyOf(pixels, m * length), kept, nanos);
            } catch (RuntimeException e) {
                inferenceFailure = e;
            }
        }
        List<Item> items = new ArrayList<>(n);
        int row = 0;
        for (int i = 0; i < n; i++) {
            if (failures[i] != null) {
                items.add(new Item(null, failures[i]));
            } else if (inferenceFailure != null) {
                items.add(new Item(null, inferenceFailure));
            } else {
                Map<EntryPoint, HashOutput> out = new EnumMap<>(EntryPoint.class);
                for (Map.Entry<EntryPoint, List<HashOutput>> e : outputs.entrySet()) {
                    out.put(e.getKey(), e.getValue().get(row));
                }
                items.add(new Item(out, null));
                row++;
            }
        }
        return items;
    }

    /**
     * Runs each entry point over the same {@code n} inputs, the picture tensor (pixels or image encoder
     * features) and the text tensor (word ids or sentence embeddings) each built once, when the first entry
     * point that takes it needs it, and shared.
     */
    private Map<EntryPoint, List<HashOutput>> runEach(
        Set<EntryPoint> entryPoints,
        int n,
        float[] pixels,
        List<String> texts,
        Map<EntryPoint, Long> nanos
    ) {
        Map<EntryPoint, List<HashOutput>> out = new EnumMap<>(EntryPoint.class);
        lock.readLock().lock();
        try {
            checkOpen();
            OnnxTensor imageInput = null;
            OnnxTensor textInput = null;
            EntryPoint current = null;
            try {
                for (EntryPoint entry : entryPoints) {
                    current = entry;
                    long start = System.nanoTime();
                    if (entry.takesImage() && imageInput == null && pixels != null) {
                        imageInput = pictureTensor(pixels, n);
                    }
                    if (entry.takesText() && textInput == null && texts != null) {
                        textInput = textTensor(texts);
                    }
                    out.put(entry, runTensors(entry, n, entry.takesImage() ? imageInput : null, entry.takesText() ? textInput : null));
                    if (nanos != null) {
                        nanos.put(entry, System.nanoTime() - start);
                    }
                }
            } catch (OrtException e) {
                throw new IllegalStateException(
                    "inference failed in the " + current.jsonName() + " entry point of model [" + config.name() + "]: " + e.getMessage(),
                    e
                );
            } finally {
                for (OnnxTensor t : new OnnxTensor[] { imageInput, textInput }) {
                    if (t != null) {
                        t.close();
                    }
                }
            }
        } finally {
            lock.readLock().unlock();
        }
        return out;
    }

    /** The picture input of the heads: the pixels [N, 3, size, size], or the image encoder's features [N, D]; call under the read lock. */
    private OnnxTensor pictureTensor(float[] pixels, int n) throws OrtException {
        if (imageEncoder == null) {
            int s = config.image().size();
            return OnnxTensor.createTensor(env, FloatBuffer.wrap(pixels), new long[] { n, 3, s, s });
        }
        float[] features;
        try {
            features = imageEncoder.encode(pixels, n);
        } catch (OrtException e) {
            throw encoderFailure(e);
        }
        return OnnxTensor.createTensor(env, FloatBuffer.wrap(features), new long[] { n, imageEncoder.dimensions() });
    }

    /** Runs one entry point on ready inputs, which it does not close. Call under the read lock. */
    private List<HashOutput> runTensors(EntryPoint entry, int n, OnnxTensor imageInput, OnnxTensor textInput) throws OrtException {
        OrtSession session = sessions.get(entry);
        if (session == null) {
            throw new IllegalArgumentException(
                "model [" + config.name() + "] has no " + entry.jsonName() + " entry point; it has " + sessions.keySet().stream().map(EntryPoint::jsonName).toList()
            );
        }
        Map<String, OnnxTensor> inputs = new HashMap<>();
        if (imageInput != null) {
            inputs.put(config.imageInput(), imageInput);
        }
        if (textInput != null) {
            inputs.put(config.textEncoder().textInput(), textInput);
        }
        try (OrtSession.Result result = session.run(inputs, outputNames)) {
            float[] probs = output(entry, result, config.probsOutput(), n, config.bits());
            float[] embeddings = output(entry, result, config.embeddingOutput(), n, config.embeddingDim());
            List<HashOutput> outputs = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                float[] p = Arrays.copyOfRange(probs, i * config.bits(), (i + 1) * config.bits());
                float[] e = Arrays.copyOfRange(embeddings, i * config.embeddingDim(), (i + 1) * config.embeddingDim());
                outputs.add(new HashOutput(HashOutput.pack(p, threshold), p, e));
            }
            return outputs;
        }
    }

    private float[] output(EntryPoint entry, OrtSession.Result result, String name, int n, int width) {
        OnnxValue value = result.get(name).orElse(null);
        if (value instanceof OnnxTensor == false) {
            throw new IllegalStateException("the " + entry.jsonName() + " entry point of model [" + config.name() + "] gave no tensor [" + name + "]");
        }
        OnnxTensor tensor = (OnnxTensor) value;
        long[] shape = tensor.getInfo().getShape();
        if (shape.length != 2 || shape[0] != n || shape[1] != width) {
            throw new IllegalStateException(
                "the " + entry.jsonName() + " entry point of model [" + config.name() + "] gave [" + name + "] of shape " + Arrays.toString(shape)
                    + " for " + n + " inputs: expected [" + n + ", " + width + "]"
            );
        }
        float[] values = new float[n * width];
        tensor.getFloatBuffer().get(values);
        for (float v : values) {
            if (Float.isFinite(v) == false) {
                throw new IllegalStateException(
                    "the " + entry.jsonName() + " entry point of model [" + config.name() + "] gave a non-finite value [" + v + "] in [" + name + "]"
                );
            }
        }
        return values;
    }

    /** Frees the sessions once no call is using them; later calls fail with IllegalStateException. */
    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (closed == false) {
                closed = true;
                closeSessions();
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    private void closeSessions() {
        IllegalStateException failure = null;
        List<AutoCloseable> all = new ArrayList<>(sessions.values());
        if (sentenceEncoder != null) {
            all.add(sentenceEncoder);
        }
        if (imageEncoder != null) {
            all.add(imageEncoder);
        }
        for (AutoCloseable session : all) {
            try {
                session.close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = new IllegalStateException("cannot close a session of model [" + config.name() + "]", e);
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        sessions.clear();
        if (failure != null) {
            throw failure;
        }
    }
}
