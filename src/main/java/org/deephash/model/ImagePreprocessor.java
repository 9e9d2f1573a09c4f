package org.deephash.model;

import com.twelvemonkeys.imageio.metadata.Entry;
import com.twelvemonkeys.imageio.metadata.jpeg.JPEG;
import com.twelvemonkeys.imageio.metadata.jpeg.JPEGSegment;
import com.twelvemonkeys.imageio.metadata.jpeg.JPEGSegmentUtil;
import com.twelvemonkeys.imageio.metadata.tiff.TIFF;
import com.twelvemonkeys.imageio.metadata.tiff.TIFFReader;
import com.twelvemonkeys.imageio.plugins.webp.WebPImageReaderSpi;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.spi.IIORegistry;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;

/**
 * Turns image bytes into the model's image input, as the training side does:
 * decode, take RGBA (alpha 255 when the image has none), resize to {@code size x size} when the image
 * has another size, composite over white and normalise, all in float32:
 * <pre>
 *   v = (c * a + 255 * (255 - a)) / 255        c, a in 0..255
 *   x = (v / 255 - mean[ch]) / std[ch]
 * </pre>
 * The result is channel-major (CHW), R then G then B, as the ONNX input {@code image} [N, 3, size, size].
 *
 * <p>Images at the model's size give exactly the training side's numbers. Other sizes are resized with
 * a triangle (bilinear) filter widened by the scale factor when shrinking, on premultiplied alpha: the
 * algorithm of Pillow's {@code resize(BILINEAR)}, but in float and composited before any rounding to
 * 8 bits, so close to Pillow's result but not bit-exact. The image is stretched to a square: its aspect
 * ratio is not kept.
 *
 * <p>Pixels are read from the decoded samples as they are, like Pillow does, not converted through the
 * image's colour profile: Java would otherwise turn a grey PNG's 128 into 186 (it treats grey as linear)
 * and apply embedded ICC profiles that the training side ignores.
 *
 * <p>Limits are checked before anything is decoded: the byte count, then the width and height from
 * the image's header (pixel count, and each side at most {@link #MAX_SIDE}). Everything wrong with the input is an {@link InputException} that says
 * what came in and what is allowed. Thread-safe.
 */
public final class ImagePreprocessor {
    /** Formats this accepts (ImageIO's names). */
    public static final Set<String> FORMATS = Set.of("png", "jpeg", "gif", "bmp", "webp");
    /** The decoders' warnings that mean the file ended before the picture did. */
    private static final Pattern TRUNCATED = Pattern.compile("truncated|premature end|missing eoi", Pattern.CASE_INSENSITIVE);
    private static final String FORMATS_TEXT = "PNG, JPEG, GIF, BMP or WebP";

    static {
        // ImageIO finds readers through the JVM-wide registry; a plugin's class loader is not scanned, so
        // TwelveMonkeys' WebP reader is registered by hand (registering it twice is a no-op).
        IIORegistry.getDefaultInstance().registerServiceProvider(new WebPImageReaderSpi());
    }
    public static final long DEFAULT_MAX_BYTES = 10L * 1024 * 1024;
    /** 4096 x 4096: decoding it takes 64 MiB of heap. */
    public static final long DEFAULT_MAX_PIXELS = 4096L * 4096;
    /** Longest side accepted whatever the pixel limit: a 16M x 1 image would need row buffers of 256 MiB. */
    public static final int MAX_SIDE = 16384;

    private final int size;
    private final float[] mean;
    private final float[] std;
    private final long maxBytes;
    private final long maxPixels;

    public ImagePreprocessor(int size, float[] mean, float[] std, long maxBytes, long maxPixels) {
        if (size < 1) {
            throw new IllegalArgumentException("image size must be at least 1 but was [" + size + "]");
        }
        if (mean.length != 3 || std.length != 3) {
            throw new IllegalArgumentException("expected 3 means and 3 standard deviations (R, G, B) but got " + mean.length + " and " + std.length);
        }
        if (maxBytes < 1 || maxPixels < 1) {
            throw new IllegalArgumentException("image limits must be positive but got [" + maxBytes + "] bytes and [" + maxPixels + "] pixels");
        }
        this.size = size;
        this.mean = mean.clone();
        this.std = std.clone();
        this.maxBytes = maxBytes;
        this.maxPixels = maxPixels;
    }

    public ImagePreprocessor(ImageSpec spec, long maxBytes, long maxPixels) {
        this(spec.size(), spec.mean(), spec.std(), maxBytes, maxPixels);
    }

    public int size() {
        return size;
    }

    public long maxBytes() {
        return maxBytes;
    }

    public long maxPixels() {
        return maxPixels;
    }

    /** The number of floats one image takes: 3 x size x size. */
    public int tensorLength() {
        return 3 * size * size;
    }

    /** The model input for one image: {@link #tensorLength()} floats, CHW. */
    public float[] preprocess(byte[] image) {
        float[] dest = new float[tensorLength()];
        preprocess(image, dest, 0);
        return dest;
    }

    /** Writes the model input for one image into {@code dest} from {@code offset} on. */
    public void preprocess(byte[] image, float[] dest, int offset) {
        BufferedImage decoded = decode(image);
        int w = decoded.getWidth();
        int h = decoded.getHeight();
        RowReader rows = RowReader.of(decoded);
        int plane = size * size;
        if (w == size && h == size) {
            int[] rgba = new int[4 * w];
            for (int y = 0; y < h; y++) {
                rows.read(y, rgba);
                for (int x = 0; x < w; x++) {
                    writePixel(rgba, x, dest, offset + y * size + x, plane);
                }
            }
        } else {
            // Premultiplied colour P = c * a / 255 composited over white is P + 255 - a: the formula above
            // on the filtered, unrounded values.
            float[] premultiplied = resize(rows, w, h);
            for (int p = 0; p < plane; p++) {
                float a = premultiplied[4 * p + 3];
                for (int c = 0; c < 3; c++) {
                    float v = Math.max(0f, Math.min(255f, premultiplied[4 * p + c] + (255f - a)));
                    dest[offset + p + c * plane] = (v / 255f - mean[c]) / std[c];
                }
            }
        }
    }

    /** Composites pixel {@code i} of an RGBA row over white and normalises it into the three planes. */
    private void writePixel(int[] rgba, int i, float[] dest, int at, int plane) {
        float a = rgba[4 * i + 3];
        for (int c = 0; c < 3; c++) {
            float v = (rgba[4 * i + c] * a + 255f * (255f - a)) / 255f;
            dest[at + c * plane] = (v / 255f - mean[c]) / std[c];
        }
    }

    /** Decodes after checking the byte count, the format and the header's width and height. */
    BufferedImage decode(byte[] image) {
        if (image == null || image.length == 0) {
            throw new InputException(InputException.Kind.EMPTY_IMAGE, "the image is empty: expected the bytes of a " + FORMATS_TEXT + " image");
        }
        if (image.length > maxBytes) {
            throw new InputException(
                InputException.Kind.IMAGE_TOO_LARGE,
                "the image is [" + image.length + "] bytes, over the limit of [" + maxBytes + "] bytes: send a smaller image"
            );
        }
        // In memory: ImageIO.createImageInputStream would cache the stream in a temporary file.
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(image))) {
            ImageReader reader = findReader(in, image);
            try {
                reader.setInput(in, true, true);
                String format = reader.getFormatName().toLowerCase(Locale.ROOT);
                int width;
                int height;
                try {
                    width = reader.getWidth(0);
                    height = reader.getHeight(0);
                } catch (IOException | RuntimeException e) {
                    throw corrupt(format, image, e);
                }
                long pixels = (long) width * height;
                if (width < 1 || height < 1) {
                    throw new InputException(InputException.Kind.CORRUPT_IMAGE, "the " + format + " image says it is " + width + "x" + height + " pixels: expected at least 1x1");
                }
                if (width > MAX_SIDE || height > MAX_SIDE) {
                    throw new InputException(
                        InputException.Kind.IMAGE_TOO_LARGE,
                        "the " + format + " image is " + width + "x" + height + " pixels: each side may be at most " + MAX_SIDE + " pixels"
                    );
                }
                if (pixels > maxPixels) {
                    throw new InputException(
                        InputException.Kind.IMAGE_TOO_LARGE,
                        "the " + format + " image is " + width + "x" + height + " = [" + pixels + "] pixels, over the limit of [" + maxPixels
                            + "] pixels: scale it down to about " + size + "x" + size + " (the model's input size) before sending it"
                    );
                }
                // TwelveMonkeys' WebP reader decodes a truncated lossless file without a word; the RIFF header
                // says how long the file is.
                if (format.equals("webp") && image.length >= 12) {
                    long declared = (image[4] & 0xFFL) | (image[5] & 0xFFL) << 8 | (image[6] & 0xFFL) << 16 | (image[7] & 0xFFL) << 24;
                    if (image.length < declared + 8) {
                        throw new InputException(
                            InputException.Kind.CORRUPT_IMAGE,
                            "the webp image is cut short: its header says [" + (declared + 8) + "] bytes but got [" + image.length
                                + "]; expected a complete, valid " + FORMATS_TEXT + " image"
                        );
                    }
                }
                // ImageIO's JPEG reader decodes a truncated file, filling the missing rows, and only warns.
                List<String> warnings = new ArrayList<>();
                reader.addIIOReadWarningListener((source, warning) -> warnings.add(warning));
                BufferedImage decoded;
                try {
                    decoded = reader.read(0);
                } catch (IOException | RuntimeException e) {
                    throw corrupt(format, image, e);
                }
                for (String warning : warnings) {
                    if (TRUNCATED.matcher(warning).find()) {
                        throw new InputException(
                            InputException.Kind.CORRUPT_IMAGE,
                            "the " + format + " image is cut short (" + warning + "): got [" + image.length + "] bytes; expected a complete, valid "
                                + FORMATS_TEXT + " image"
                        );
                    }
                }
                // ImageIO's PNG reader decodes a file cut after its last pixel data (the IDAT's checksum and the
                // IEND chunk lost) without a word; a PNG ends with IEND.
                if (format.equals("png") && hasPngEnd(image) == false) {
                    throw new InputException(
                        InputException.Kind.CORRUPT_IMAGE,
                        "the png image is cut short: it has no IEND chunk (got [" + image.length + "] bytes); expected a complete, valid "
                            + FORMATS_TEXT + " image"
                    );
                }
                return format.equals("jpeg") ? oriented(decoded, exifOrientation(image)) : decoded;
            } finally {
                reader.dispose();
            }
        } catch (IOException e) {
            // Closing a memory stream; nothing is read from disk.
            throw new InputException(InputException.Kind.CORRUPT_IMAGE, "could not read the image: " + e.getMessage(), e);
        }
    }

    /**
     * The EXIF orientation of a JPEG (1 to 8, as cameras and phones write it), read with TwelveMonkeys'
     * metadata readers; 1 (as stored) when there is none or it cannot be read: bad metadata never fails a picture.
     */
    static int exifOrientation(byte[] jpeg) {
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(jpeg))) {
            List<JPEGSegment> segments = JPEGSegmentUtil.readSegments(in, JPEG.APP1, "Exif");
            if (segments.isEmpty()) {
                return 1;
            }
            InputStream data = segments.get(0).data();
            if (data.read() == -1) {   // the pad byte after "Exif\0"
                return 1;
            }
            try (ImageInputStream tiff = new MemoryCacheImageInputStream(data)) {
                Entry entry = new TIFFReader().read(tiff).getEntryById(TIFF.TAG_ORIENTATION);
                int orientation = entry != null && entry.getValue() instanceof Number n ? n.intValue() : 1;
                return orientation >= 1 && orientation <= 8 ? orientation : 1;
            }
        } catch (IOException | RuntimeException e) {
            return 1;
        }
    }

    /**
     * The picture turned the way its EXIF orientation says it is shown (2 mirrored, 3 turned half way, 4 upside
     * down mirrored, 5 transposed, 6 turned a quarter clockwise, 7 transversed, 8 a quarter anticlockwise), so that
     * a phone's photo hashes like the same photo stored upright. Moves the raster's samples as they are.
     */
    static BufferedImage oriented(BufferedImage image, int orientation) {
        if (orientation <= 1 || orientation > 8) {
            return image;
        }
        int w = image.getWidth();
        int h = image.getHeight();
        boolean swap = orientation >= 5;
        WritableRaster source = image.getRaster();
        WritableRaster target = source.createCompatibleWritableRaster(swap ? h : w, swap ? w : h);
        Object pixel = null;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                pixel = source.getDataElements(x, y, pixel);
                int tx;
                int ty;
                switch (orientation) {
                    case 2 -> { tx = w - 1 - x; ty = y; }
                    case 3 -> { tx = w - 1 - x; ty = h - 1 - y; }
                    case 4 -> { tx = x; ty = h - 1 - y; }
                    case 5 -> { tx = y; ty = x; }
                    case 6 -> { tx = h - 1 - y; ty = x; }
                    case 7 -> { tx = h - 1 - y; ty = w - 1 - x; }
                    default -> { tx = y; ty = w - 1 - x; }
                }
                target.setDataElements(tx, ty, pixel);
            }
        }
        return new BufferedImage(image.getColorModel(), target, image.isAlphaPremultiplied(), null);
    }

    private static ImageReader findReader(ImageInputStream in, byte[] image) {
        String other = null;
        Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
        while (readers.hasNext()) {
            ImageReader reader = readers.next();
            String format;
            try {
                format = reader.getFormatName().toLowerCase(Locale.ROOT);
            } catch (IOException e) {
                continue;
            }
            if (FORMATS.contains(format)) {
                return reader;
            }
            other = format;
        }
        throw new InputException(
            InputException.Kind.UNSUPPORTED_IMAGE,
            "the image is not a " + FORMATS_TEXT + " image" + (other == null ? "" : " (it looks like " + other + ")") + ": got [" + image.length
                + "] bytes starting with [" + firstBytes(image) + "]"
        );
    }

    private static InputException corrupt(String format, byte[] image, Exception e) {
        String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return new InputException(
            InputException.Kind.CORRUPT_IMAGE,
            "the image looks like " + format + " but could not be decoded (" + why + "): got [" + image.length + "] bytes; expected a complete, valid "
                + FORMATS_TEXT + " image",
            e
        );
    }

    private static String firstBytes(byte[] image) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(8, image.length); i++) {
            if (i > 0) {
                sb.append(' ');
            }
            sb.append(String.format(Locale.ROOT, "%02x", image[i] & 0xff));
        }
        return sb.toString();
    }

    /**
     * Resizes to size x size: a separable triangle filter whose support grows with the shrink factor
     * (Pillow's BILINEAR), on premultiplied alpha so transparent pixels lend no colour to their
     * neighbours. Returns premultiplied RGBA floats in 0..255, not rounded.
     */
    private float[] resize(RowReader rows, int w, int h) {
        Filter fx = new Filter(w, size);
        Filter fy = new Filter(h, size);
        // Horizontal pass, one source row at a time: h rows of size premultiplied RGBA pixels.
        float[] horizontal = new float[h * size * 4];
        int[] row = new int[4 * w];
        float[] premultiplied = new float[4 * w];
        for (int y = 0; y < h; y++) {
            rows.read(y, row);
            for (int x = 0; x < w; x++) {
                float a = row[4 * x + 3];
                premultiplied[4 * x] = row[4 * x] * a / 255f;
                premultiplied[4 * x + 1] = row[4 * x + 1] * a / 255f;
                premultiplied[4 * x + 2] = row[4 * x + 2] * a / 255f;
                premultiplied[4 * x + 3] = a;
            }
            fx.apply(premultiplied, 4, horizontal, y * size * 4, 4);
        }
        // Vertical pass, one output column at a time.
        float[] out = new float[size * size * 4];
        float[] column = new float[h * 4];
        float[] resized = new float[size * 4];
        for (int x = 0; x < size; x++) {
            for (int y = 0; y < h; y++) {
                System.arraycopy(horizontal, (y * size + x) * 4, column, y * 4, 4);
            }
            fy.apply(column, 4, resized, 0, 4);
            for (int y = 0; y < size; y++) {
                System.arraycopy(resized, y * 4, out, (y * size + x) * 4, 4);
            }
        }
        return out;
    }

    /** Precomputed weights of a 1-D triangle filter from {@code in} samples to {@code out}. */
    private static final class Filter {
        private final int out;
        private final int[] start;
        private final float[][] weights;

        Filter(int in, int out) {
            this.out = out;
            this.start = new int[out];
            this.weights = new float[out][];
            double scale = (double) in / out;
            double filterScale = Math.max(scale, 1.0);
            double support = filterScale;
            for (int i = 0; i < out; i++) {
                double center = (i + 0.5) * scale;
                int min = Math.max(0, (int) Math.floor(center - support + 0.5));
                int max = Math.min(in, (int) Math.floor(center + support + 0.5));
                double[] w = new double[Math.max(0, max - min)];
                double sum = 0;
                for (int j = 0; j < w.length; j++) {
                    double t = Math.abs((j + min - center + 0.5) / filterScale);
                    w[j] = t < 1 ? 1 - t : 0;
                    sum += w[j];
                }
                float[] normalised = new float[w.length];
                for (int j = 0; j < w.length; j++) {
                    normalised[j] = sum == 0 ? 0 : (float) (w[j] / sum);
                }
                start[i] = min;
                weights[i] = normalised;
            }
        }

        /** Filters groups of {@code channels} floats: src[j * channels + c] into dest[offset + i * stride + c]. */
        void apply(float[] src, int channels, float[] dest, int offset, int stride) {
            for (int i = 0; i < out; i++) {
                float[] w = weights[i];
                int s = start[i];
                for (int c = 0; c < channels; c++) {
                    float acc = 0;
                    for (int j = 0; j < w.length; j++) {
                        acc += w[j] * src[(s + j) * channels + c];
                    }
                    dest[offset + i * stride + c] = acc;
                }
            }
        }
    }

    /** Reads one row of a decoded image as 8-bit RGBA, four ints a pixel. */
    private abstract static class RowReader {
        abstract void read(int y, int[] rgba);

        static RowReader of(BufferedImage image) {
            RowReader raw = RawSamples.of(image);
            if (raw == null) {
                raw = Cmyk.of(image);
            }
            return raw != null ? raw : new Argb(image);
        }
    }

    /**
     * CMYK (a CMYK or YCCK JPEG, as ImageIO decodes it: four 8-bit samples, ink amounts) into RGB the way
     * Pillow converts it, R = (255 - C) (255 - K) / 255 in its integer arithmetic, so that such a picture hashes
     * as the training side sees it. Java's colour model would convert through its own CMYK space, several
     * levels away from Pillow's on most colours.
     */
    private static final class Cmyk extends RowReader {
        private final Raster raster;
        private final int width;
        private final int[] samples;

        private Cmyk(Raster raster) {
            this.raster = raster;
            this.width = raster.getWidth();
            this.samples = new int[width * 4];
        }

        static Cmyk of(BufferedImage image) {
            ColorModel cm = image.getColorModel();
            Raster raster = image.getRaster();
            boolean cmyk = cm instanceof ComponentColorModel
                && cm.getColorSpace().getType() == ColorSpace.TYPE_CMYK
                && cm.hasAlpha() == false
                && cm.getTransferType() == DataBuffer.TYPE_BYTE
                && raster.getNumBands() == 4;
            return cmyk ? new Cmyk(raster) : null;
        }

        @Override
        void read(int y, int[] rgba) {
            raster.getPixels(raster.getMinX(), raster.getMinY() + y, width, 1, samples);
            for (int x = 0; x < width; x++) {
                int nk = 255 - samples[4 * x + 3];
                for (int c = 0; c < 3; c++) {
                    rgba[4 * x + c] = Math.max(0, Math.min(255, nk - mulDiv255(samples[4 * x + c], nk)));
                }
                rgba[4 * x + 3] = 255;
            }
        }

        /** a * b / 255, rounded as Pillow's MULDIV255 rounds. */
        private static int mulDiv255(int a, int b) {
            int t = a * b + 128;
            return ((t >> 8) + t) >> 8;
        }
    }

    /** Through the colour model, into sRGB: palettes, packed pixels, premultiplied images. */
    private static final class Argb extends RowReader {
        private final BufferedImage image;
        private final int[] argb;

        Argb(BufferedImage image) {
            this.image = image;
            this.argb = new int[image.getWidth()];
        }

        @Override
        void read(int y, int[] rgba) {
            image.getRGB(0, y, argb.length, 1, argb, 0, argb.length);
            for (int x = 0; x < argb.length; x++) {
                int p = argb[x];
                rgba[4 * x] = (p >>> 16) & 0xff;
                rgba[4 * x + 1] = (p >>> 8) & 0xff;
                rgba[4 * x + 2] = p & 0xff;
                rgba[4 * x + 3] = p >>> 24;
            }
        }
    }

    /** Grey, grey+alpha, RGB and RGBA images of 8 or 16 bits a sample, read as stored (16 bits: the high byte). */
    private static final class RawSamples extends RowReader {
        private final Raster raster;
        private final int width;
        private final boolean grey;
        private final boolean alpha;
        private final int bands;
        private final int shift;
        private final int[] samples;

        private RawSamples(Raster raster, boolean grey, boolean alpha, int shift) {
            this.raster = raster;
            this.width = raster.getWidth();
            this.grey = grey;
            this.alpha = alpha;
            this.bands = raster.getNumBands();
            this.shift = shift;
            this.samples = new int[width * bands];
        }

        static RawSamples of(BufferedImage image) {
            ColorModel cm = image.getColorModel();
            if (cm instanceof ComponentColorModel == false || cm.isAlphaPremultiplied()) {
                return null;
            }
            int type = cm.getColorSpace().getType();
            boolean grey = type == ColorSpace.TYPE_GRAY && cm.getNumColorComponents() == 1;
            boolean rgb = type == ColorSpace.TYPE_RGB && cm.getNumColorComponents() == 3;
            Raster raster = image.getRaster();
            if ((grey || rgb) == false || raster.getNumBands() != cm.getNumComponents()) {
                return null;
            }
            int transfer = cm.getTransferType();
            int bits = transfer == DataBuffer.TYPE_BYTE ? 8 : transfer == DataBuffer.TYPE_USHORT ? 16 : -1;
            for (int i = 0; i < cm.getNumComponents(); i++) {
                if (cm.getComponentSize(i) != bits) {
                    return null;
                }
            }
            if (bits < 0) {
                return null;
            }
            return new RawSamples(raster, grey, cm.hasAlpha(), bits - 8);
        }

        @Override
        void read(int y, int[] rgba) {
            raster.getPixels(raster.getMinX(), raster.getMinY() + y, width, 1, samples);
            for (int x = 0; x < width; x++) {
                int s = x * bands;
                if (grey) {
                    int g = samples[s] >>> shift;
                    rgba[4 * x] = g;
                    rgba[4 * x + 1] = g;
                    rgba[4 * x + 2] = g;
                    rgba[4 * x + 3] = alpha ? samples[s + 1] >>> shift : 255;
                } else {
                    rgba[4 * x] = samples[s] >>> shift;
                    rgba[4 * x + 1] = samples[s + 1] >>> shift;
                    rgba[4 * x + 2] = samples[s + 2] >>> shift;
                    rgba[4 * x + 3] = alpha ? samples[s + 3] >>> shift : 255;
                }
            }
        }
    }

    /** The IEND chunk's type and its fixed checksum: every complete PNG has them, at its end. */
    private static final byte[] PNG_END = { 'I', 'E', 'N', 'D', (byte) 0xAE, 0x42, 0x60, (byte) 0x82 };

    /** Whether the PNG holds its IEND chunk; searched from the end, where a complete file has it. */
    static boolean hasPngEnd(byte[] image) {
        for (int at = image.length - PNG_END.length; at >= 8; at--) {
            if (Arrays.equals(image, at, at + PNG_END.length, PNG_END, 0, PNG_END.length)) {
                return true;
            }
        }
        return false;
    }
}
