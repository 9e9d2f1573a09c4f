package org.deephash.model;

import org.elasticsearch.test.ESTestCase;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import javax.imageio.stream.MemoryCacheImageOutputStream;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

public class ImagePreprocessorTests extends ESTestCase {
    private static final float[] HALF = { 0.5f, 0.5f, 0.5f };

    private static ImagePreprocessor preprocessor(int size) {
        return new ImagePreprocessor(size, HALF, HALF, ImagePreprocessor.DEFAULT_MAX_BYTES, ImagePreprocessor.DEFAULT_MAX_PIXELS);
    }

    static byte[] encode(BufferedImage image, String format) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        if (format.equals("gif")) {
            // The JDK writes interlaced GIFs, and its reader gets interlaced GIFs of 2 to 4 rows wrong (Pillow reads them
            // right): a JDK bug, of no weight for real images, that this test is not about.
            ImageWriter writer = ImageIO.getImageWritersByFormatName("gif").next();
            ImageWriteParam param = writer.getDefaultWriteParam();
            param.setProgressiveMode(ImageWriteParam.MODE_DISABLED);
            try (ImageOutputStream ios = new MemoryCacheImageOutputStream(out)) {
                writer.setOutput(ios);
                writer.write(null, new IIOImage(image, null, null), param);
            } finally {
                writer.dispose();
            }
            return out.toByteArray();
        }
        assertTrue("no ImageIO writer for " + format, ImageIO.write(image, format, out));
        return out.toByteArray();
    }

    /** A PNG of 8 to 64 pixels a side, every pixel a random opaque colour. */
    public static byte[] randomPng() throws IOException {
        BufferedImage image = new BufferedImage(between(8, 64), between(8, 64), BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                image.setRGB(x, y, randomInt(0xFFFFFF));
            }
        }
        return encode(image, "png");
    }

    /** Value at channel c, row y, column x of a CHW tensor. */
    private static float at(float[] chw, int size, int c, int y, int x) {
        return chw[c * size * size + y * size + x];
    }

    /** The contract's formula, written out in double: composite over white, then normalise. */
    private static double expected(int c, int a, double mean, double std) {
        double v = (c * a + 255.0 * (255 - a)) / 255.0;
        return (v / 255.0 - mean) / std;
    }

    public void testAlphaIsCompositedOverWhite() throws IOException {
        int size = between(2, 12);
        float[] mean = { randomFloat(), randomFloat(), randomFloat() };
        float[] std = { 0.1f + randomFloat(), 0.1f + randomFloat(), 0.1f + randomFloat() };
        BufferedImage image = new BufferedImage(size, size, BufferedImage.TYPE_INT_ARGB);
        int[][] argb = new int[size][size];
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                argb[y][x] = randomInt();
                image.setRGB(x, y, argb[y][x]);
            }
        }
        // Pixels whose answer is known by heart.
        argb[0][0] = 0x00ff0000; // fully transparent red: white
        argb[0][1] = 0xff000000; // opaque black
        argb[1][0] = 0x80ff0000; // half-transparent red: R = 255, G = B = 127/255 of white
        for (int[] p : new int[][] { { 0, 0 }, { 0, 1 }, { 1, 0 } }) {
            image.setRGB(p[1], p[0], argb[p[0]][p[1]]);
        }
        float[] out = new ImagePreprocessor(size, mean, std, 1 << 20, 1 << 20).preprocess(encode(image, "png"));
        assertThat(out.length, equalTo(3 * size * size));

        for (int c = 0; c < 3; c++) {
            assertEquals((1 - mean[c]) / std[c], at(out, size, c, 0, 0), 1e-6);
            assertEquals((0 - mean[c]) / std[c], at(out, size, c, 0, 1), 1e-6);
        }
        assertEquals((1 - mean[0]) / std[0], at(out, size, 0, 1, 0), 1e-6);
        assertEquals((127f / 255f - mean[1]) / std[1], at(out, size, 1, 1, 0), 1e-6);
        assertEquals((127f / 255f - mean[2]) / std[2], at(out, size, 2, 1, 0), 1e-6);

        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                int p = argb[y][x];
                int a = p >>> 24;
                int[] rgb = { (p >>> 16) & 0xff, (p >>> 8) & 0xff, p & 0xff };
                for (int c = 0; c < 3; c++) {
                    assertEquals("pixel " + x + "," + y + " channel " + c, expected(rgb[c], a, mean[c], std[c]), at(out, size, c, y, x), 1e-5);
                }
            }
        }
    }

    /** Java would turn grey 128 into 186 through its linear grey colour space; the training side reads 128. */
    public void testGreyIsReadAsStored() throws IOException {
        BufferedImage grey = new BufferedImage(4, 4, BufferedImage.TYPE_BYTE_GRAY);
        grey.getRaster().setSample(1, 2, 0, 128);
        grey.getRaster().setSample(3, 3, 0, 255);
        float[] out = preprocessor(4).preprocess(encode(grey, "png"));
        for (int c = 0; c < 3; c++) {
            assertEquals(expected(128, 255, 0.5, 0.5), at(out, 4, c, 2, 1), 1e-6);
            assertEquals(expected(255, 255, 0.5, 0.5), at(out, 4, c, 3, 3), 1e-6);
            assertEquals(expected(0, 255, 0.5, 0.5), at(out, 4, c, 0, 0), 1e-6);
        }
    }

    /** Lossless formats give exactly the pixels that were written; images without alpha are opaque. */
    public void testEveryLosslessFormatGivesThePixels() throws IOException {
        int size = between(1, 9);
        BufferedImage rgb = new BufferedImage(size, size, BufferedImage.TYPE_3BYTE_BGR);
        int[] palette = { 0x102030, 0xfedcba, 0x00ff00, 0x808080 }; // few colours, so GIF keeps them exactly
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                rgb.setRGB(x, y, randomFrom(Arrays.stream(palette).boxed().toList()));
            }
        }
        for (String format : new String[] { "png", "bmp", "gif" }) {
            float[] out = preprocessor(size).preprocess(encode(rgb, format));
            for (int y = 0; y < size; y++) {
                for (int x = 0; x < size; x++) {
                    int p = rgb.getRGB(x, y);
                    int[] channels = { (p >>> 16) & 0xff, (p >>> 8) & 0xff, p & 0xff };
                    for (int c = 0; c < 3; c++) {
                        assertEquals(format + " pixel " + x + "," + y, expected(channels[c], 255, 0.5, 0.5), at(out, size, c, y, x), 1e-6);
                    }
                }
            }
        }
    }

    public void testJpegIsDecoded() throws IOException {
        BufferedImage rgb = new BufferedImage(16, 16, BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < 16; y++) {
            for (int x = 0; x < 16; x++) {
                rgb.setRGB(x, y, 0xc86432); // 200, 100, 50
            }
        }
        float[] out = preprocessor(16).preprocess(encode(rgb, "jpeg"));
        int[] channels = { 200, 100, 50 };
        for (int c = 0; c < 3; c++) {
            // Lossy: within a few levels.
            assertEquals(expected(channels[c], 255, 0.5, 0.5), at(out, 16, c, 8, 8), 4 * 2 / 255.0);
        }
    }

    public void testResizeKeepsAUniformColour() throws IOException {
        int size = between(2, 16);
        int w = between(1, 50);
        int h = between(1, 50);
        int argb = randomIntBetween(1, 255) << 24 | randomIntBetween(0, 0xffffff);
        BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_INT_ARGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                image.setRGB(x, y, argb);
            }
        }
        float[] out = preprocessor(size).preprocess(encode(image, "png"));
        int a = argb >>> 24;
        int[] rgb = { (argb >>> 16) & 0xff, (argb >>> 8) & 0xff, argb & 0xff };
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < size; y++) {
                for (int x = 0; x < size; x++) {
                    assertEquals(w + "x" + h + " to " + size, expected(rgb[c], a, 0.5, 0.5), at(out, size, c, y, x), 1e-4);
                }
            }
        }
    }

    /** Shrinking averages neighbours: one-pixel stripes become grey, not a pattern picked by chance. */
    public void testShrinkingFiltersInsteadOfSampling() throws IOException {
        int size = 8;
        BufferedImage stripes = new BufferedImage(2 * size, 2 * size, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 2 * size; y++) {
            for (int x = 0; x < 2 * size; x++) {
                stripes.setRGB(x, y, x % 2 == 0 ? 0x000000 : 0xffffff);
            }
        }
        float[] out = preprocessor(size).preprocess(encode(stripes, "png"));
        for (int y = 0; y < size; y++) {
            for (int x = 1; x < size - 1; x++) { // the edges see only part of the filter
                assertEquals(0.0, at(out, size, 0, y, x), 1e-5); // 127.5: halfway between black and white
            }
        }
    }

    /** Transparent pixels lend no colour: half transparent red, half opaque blue, shrunk, shows no red. */
    public void testResizeUsesPremultipliedAlpha() throws IOException {
        int size = 4;
        BufferedImage image = new BufferedImage(4 * size, 4 * size, BufferedImage.TYPE_INT_ARGB);
        for (int y = 0; y < 4 * size; y++) {
            for (int x = 0; x < 4 * size; x++) {
                image.setRGB(x, y, x < 2 * size ? 0x00ff0000 : 0xff0000ff);
            }
        }
        float[] out = preprocessor(size).preprocess(encode(image, "png"));
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                // Composited over white, blue-or-white pixels have equal red and green.
                assertEquals("pixel " + x + "," + y, at(out, size, 1, y, x), at(out, size, 0, y, x), 1e-5);
            }
            assertEquals(expected(255, 255, 0.5, 0.5), at(out, size, 2, y, 1), 1e-6);
        }
    }

    public void testGrowingASinglePixel() throws IOException {
        BufferedImage one = new BufferedImage(1, 1, BufferedImage.TYPE_INT_ARGB);
        one.setRGB(0, 0, 0xff336699);
        float[] out = preprocessor(5).preprocess(encode(one, "png"));
        for (int i = 0; i < 25; i++) {
            assertEquals(expected(0x33, 255, 0.5, 0.5), out[i], 1e-6);
            assertEquals(expected(0x99, 255, 0.5, 0.5), out[50 + i], 1e-6);
        }
    }

    public void testCorruptImageIsRefused() throws IOException {
        BufferedImage image = new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 32; y++) {
            for (int x = 0; x < 32; x++) {
                image.setRGB(x, y, randomInt());
            }
        }
        byte[] png = encode(image, "png");
        byte[] truncated = Arrays.copyOf(png, png.length / 2);
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> preprocessor(32).preprocess(truncated));
        assertThat(e.getMessage(), containsString("the image looks like png but could not be decoded"));
        assertThat(e.getMessage(), containsString("got [" + truncated.length + "] bytes"));

        byte[] garbled = png.clone();
        for (int i = 60; i < garbled.length - 20; i++) {
            garbled[i] = (byte) randomInt();
        }
        e = expectThrows(IllegalArgumentException.class, () -> preprocessor(32).preprocess(garbled));
        assertThat(e.getMessage(), containsString("could not be decoded"));

        byte[] jpeg = encode(image, "jpeg");
        byte[] shortJpeg = Arrays.copyOf(jpeg, 30);
        e = expectThrows(IllegalArgumentException.class, () -> preprocessor(32).preprocess(shortJpeg));
        assertThat(e.getMessage(), containsString("the image looks like jpeg but could not be decoded"));
    }

    /** The header says 16000 x 16000 and there is no pixel data: refused from the header, never decoded. */
    public void testTooManyPixelsIsRefusedFromTheHeader() {
        byte[] bomb = pngHeaderOnly(16_000, 16_000);
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> preprocessor(64).preprocess(bomb));
        assertThat(e.getMessage(), containsString("the png image is 16000x16000 = [256000000] pixels, over the limit of [16777216] pixels"));
        assertThat(e.getMessage(), containsString("scale it down"));
    }

    public void testVeryLongSideIsRefused() {
        byte[] line = pngHeaderOnly(1_000_000, 1);
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> preprocessor(64).preprocess(line));
        assertThat(e.getMessage(), containsString("the png image is 1000000x1 pixels: each side may be at most 16384 pixels"));
    }

    public void testPixelLimitIsConfigurable() throws IOException {
        byte[] png = encode(new BufferedImage(11, 10, BufferedImage.TYPE_INT_RGB), "png");
        ImagePreprocessor small = new ImagePreprocessor(8, HALF, HALF, 1 << 20, 109);
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> small.preprocess(png));
        assertThat(e.getMessage(), containsString("11x10 = [110] pixels, over the limit of [109] pixels"));
        new ImagePreprocessor(8, HALF, HALF, 1 << 20, 110).preprocess(png);
    }

    public void testByteLimit() throws IOException {
        byte[] png = encode(new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB), "png");
        ImagePreprocessor p = new ImagePreprocessor(8, HALF, HALF, png.length - 1, 1 << 20);
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> p.preprocess(png));
        assertThat(e.getMessage(), containsString("the image is [" + png.length + "] bytes, over the limit of [" + (png.length - 1) + "] bytes"));
    }

    public void testBadBytesAreRefused() throws IOException {
        byte[] text = "this is not an image at all".getBytes(StandardCharsets.UTF_8);
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> preprocessor(8).preprocess(text));
        assertThat(e.getMessage(), containsString("the image is not a PNG, JPEG, GIF, BMP or WebP image"));
        assertThat(e.getMessage(), containsString("bytes starting with [74 68 69 73 20 69 73 20]"));

        e = expectThrows(IllegalArgumentException.class, () -> preprocessor(8).preprocess(new byte[0]));
        assertThat(e.getMessage(), containsString("the image is empty"));
        e = expectThrows(IllegalArgumentException.class, () -> preprocessor(8).preprocess(null));
        assertThat(e.getMessage(), containsString("the image is empty"));

        // A format ImageIO reads but the model's contract does not include.
        byte[] tiff = encode(new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB), "tiff");
        e = expectThrows(IllegalArgumentException.class, () -> preprocessor(8).preprocess(tiff));
        assertThat(e.getMessage(), containsString("not a PNG, JPEG, GIF, BMP or WebP image (it looks like tif"));
    }

    public void testWritesIntoABatchAtAnOffset() throws IOException {
        byte[] png = encode(new BufferedImage(3, 3, BufferedImage.TYPE_INT_RGB), "png");
        ImagePreprocessor p = preprocessor(3);
        float[] batch = new float[3 * p.tensorLength()];
        Arrays.fill(batch, Float.NaN);
        p.preprocess(png, batch, p.tensorLength());
        assertTrue(Float.isNaN(batch[p.tensorLength() - 1]));
        assertTrue(Float.isNaN(batch[2 * p.tensorLength()]));
        for (int i = p.tensorLength(); i < 2 * p.tensorLength(); i++) {
            assertEquals(-1f, batch[i], 0f);
        }
    }

    public void testWebPLosslessDecodesToTheSamePixelsAsPng() throws IOException {
        ImagePreprocessor p = preprocessor(8);
        float[] fromPng = p.preprocess(resource("pattern-8x8.png"));
        float[] fromWebP = p.preprocess(resource("pattern-8x8-lossless.webp"));
        assertArrayEquals(fromPng, fromWebP, 0f);
    }

    public void testWebPLossyIsDecodedAndResized() throws IOException {
        float[] x = preprocessor(8).preprocess(resource("photo-32x24-lossy.webp"));
        assertEquals(3 * 8 * 8, x.length);
        for (float v : x) {
            assertTrue(v >= -1f && v <= 1f);
        }
    }

    public void testWebPHeaderOverThePixelLimitIsRefusedBeforeDecoding() throws IOException {
        byte[] bomb = resource("bomb-16384x16384.webp");
        InputException e = expectThrows(InputException.class, () -> preprocessor(8).preprocess(bomb));
        assertEquals(InputException.Kind.IMAGE_TOO_LARGE, e.kind());
        assertThat(e.getMessage(), containsString("the webp image is 16384x16384 = [268435456] pixels, over the limit"));
    }

    public void testKindsOfBadImages() throws IOException {
        ImagePreprocessor p = preprocessor(8);
        assertEquals(InputException.Kind.EMPTY_IMAGE, expectThrows(InputException.class, () -> p.preprocess(new byte[0])).kind());
        byte[] text = "not an image".getBytes(StandardCharsets.UTF_8);
        assertEquals(InputException.Kind.UNSUPPORTED_IMAGE, expectThrows(InputException.class, () -> p.preprocess(text)).kind());
        byte[] png = resource("pattern-8x8.png");
        byte[] truncated = Arrays.copyOf(png, png.length / 2);
        assertEquals(InputException.Kind.CORRUPT_IMAGE, expectThrows(InputException.class, () -> p.preprocess(truncated)).kind());
    }

    /**
     * A picture cut short fails in every format: PNG, GIF and BMP throw, and the JPEG reader, which fills the
     * missing rows and only warns, is caught by its warning. The whole file still hashes.
     */
    public void testATruncatedPictureFailsInEveryFormat() throws IOException {
        BufferedImage image = new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 64; y++) {
            for (int x = 0; x < 64; x++) {
                image.setRGB(x, y, randomInt(0xFFFFFF));
            }
        }
        ImagePreprocessor p = preprocessor(8);
        for (String format : List.of("jpeg", "png", "gif", "bmp")) {
            byte[] whole = encode(image, format);
            p.preprocess(whole);
            byte[] cut = Arrays.copyOf(whole, whole.length / between(2, 4));
            InputException e = expectThrows(InputException.class, () -> p.preprocess(cut));
            assertEquals(format, InputException.Kind.CORRUPT_IMAGE, e.kind());
            assertThat(format, e.getMessage(), containsString("got [" + cut.length + "] bytes"));
        }
    }

    /**
     * ImageIO decodes a PNG cut after its pixel data (IDAT's checksum and IEND lost) without a word: the missing
     * IEND chunk catches it (the fuzzer's truncated 1-bit PNG, seed 1301439663).
     */
    public void testAPngWithoutItsEndFails() throws IOException {
        BufferedImage image = new BufferedImage(between(1, 16), between(1, 16), randomFrom(BufferedImage.TYPE_BYTE_BINARY, BufferedImage.TYPE_INT_RGB));
        byte[] whole = encode(image, "png");
        ImagePreprocessor p = preprocessor(8);
        p.preprocess(whole);
        for (int lost : new int[] { 1, 12, 16 }) {
            byte[] cut = Arrays.copyOf(whole, whole.length - lost);
            InputException e = expectThrows(InputException.class, () -> p.preprocess(cut));
            assertEquals(InputException.Kind.CORRUPT_IMAGE, e.kind());
            assertThat(e.getMessage(), containsString("the png image is cut short: it has no IEND chunk (got [" + cut.length + "] bytes)"));
        }
    }

    /** TwelveMonkeys decodes a cut lossless WebP without a word: the RIFF header's length catches it. */
    public void testATruncatedWebPFails() throws IOException {
        byte[] whole = resource("pattern-8x8-lossless.webp");
        ImagePreprocessor p = preprocessor(8);
        p.preprocess(whole);
        byte[] cut = Arrays.copyOf(whole, between(whole.length / 2, whole.length - 1));
        InputException e = expectThrows(InputException.class, () -> p.preprocess(cut));
        assertEquals(InputException.Kind.CORRUPT_IMAGE, e.kind());
        assertThat(e.getMessage(), containsString("the webp image is cut short: its header says [" + whole.length + "] bytes but got [" + cut.length + "]"));
    }

    /** Each EXIF orientation moves pixel (x, y) of a w x h picture where a viewer shows it. */
    public void testEveryExifOrientationTurnsThePictureAsShown() {
        int w = between(1, 7);
        int h = between(1, 7);
        BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                image.setRGB(x, y, (x << 8) | y);
            }
        }
        // Where (x, y) lands, {rule for the new x, rule for the new y}: as Pillow's ImageOps.exif_transpose turns
        // them (2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE, 6 ROTATE_270, 7 TRANSVERSE, 8 ROTATE_90).
        int[][] expected = { null, { 0, 2 }, { 1, 2 }, { 1, 3 }, { 0, 3 }, { 2, 0 }, { 3, 0 }, { 3, 1 }, { 2, 1 } };
        for (int o = 1; o <= 8; o++) {
            BufferedImage turned = ImagePreprocessor.oriented(image, o);
            boolean swap = o >= 5;
            assertEquals("orientation " + o, swap ? h : w, turned.getWidth());
            assertEquals("orientation " + o, swap ? w : h, turned.getHeight());
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    // 0: x, 1: mirrored x, 2: y, 3: mirrored y (the other side's length)
                    int[] rule = expected[o];
                    int tx = pick(rule[0], x, y, w, h);
                    int ty = pick(rule[1], x, y, w, h);
                    assertEquals("orientation " + o + " pixel " + x + "," + y, (x << 8) | y, turned.getRGB(tx, ty) & 0xFFFFFF);
                }
            }
        }
    }

    private static int pick(int rule, int x, int y, int w, int h) {
        return switch (rule) {
            case 0 -> x;
            case 1 -> w - 1 - x;
            case 2 -> y;
            default -> h - 1 - y;
        };
    }

    /** A JPEG's orientation from its APP1 Exif segment; none, or a broken one, reads as 1 and never fails. */
    public void testExifOrientationIsReadFromTheJpeg() throws IOException {
        BufferedImage image = new BufferedImage(4, 2, BufferedImage.TYPE_INT_RGB);
        byte[] jpeg = encode(image, "jpeg");
        assertEquals(1, ImagePreprocessor.exifOrientation(jpeg));
        int orientation = between(1, 8);
        byte[] tagged = withExif(jpeg, orientation, true);
        assertEquals(orientation, ImagePreprocessor.exifOrientation(tagged));
        assertEquals(orientation, ImagePreprocessor.exifOrientation(withExif(jpeg, orientation, false)));
        assertEquals(1, ImagePreprocessor.exifOrientation(withExif(jpeg, 9, true)));
        byte[] broken = tagged.clone();
        broken[14] = 'X';   // the TIFF byte order mark
        assertEquals(1, ImagePreprocessor.exifOrientation(broken));
        // And the picture is turned: 4x2 stored, 2x4 shown for 5 to 8.
        float[] x = preprocessor(4).preprocess(withExif(jpeg, 6, true));
        assertEquals(3 * 4 * 4, x.length);
    }

    /** {@code jpeg} with an APP1 Exif segment after its SOI holding one IFD0 entry: the orientation. */
    private static byte[] withExif(byte[] jpeg, int orientation, boolean littleEndian) {
        ByteBuffer tiff = ByteBuffer.allocate(8 + 2 + 12 + 4).order(littleEndian ? java.nio.ByteOrder.LITTLE_ENDIAN : java.nio.ByteOrder.BIG_ENDIAN);
        tiff.put(littleEndian ? (byte) 'I' : (byte) 'M').put(littleEndian ? (byte) 'I' : (byte) 'M').putShort((short) 42).putInt(8);
        tiff.putShort((short) 1).putShort((short) 0x0112).putShort((short) 3).putInt(1).putShort((short) orientation).putShort((short) 0);
        tiff.putInt(0);
        byte[] exif = "Exif\0\0".getBytes(StandardCharsets.ISO_8859_1);
        int length = 2 + exif.length + tiff.capacity();
        ByteBuffer out = ByteBuffer.allocate(jpeg.length + 2 + length);
        out.put(jpeg, 0, 2).put((byte) 0xFF).put((byte) 0xE1).putShort((short) length).put(exif).put(tiff.array());
        out.put(jpeg, 2, jpeg.length - 2);
        return out.array();
    }

    /** A CMYK JPEG's inks become RGB as Pillow converts them: (255 - C)(255 - K)/255, not through Java's CMYK space. */
    public void testCmykIsConvertedAsPillowDoes() throws IOException {
        // Written by Pillow: Image.new("CMYK", (8, 8), (55, 205, 225, 40)).save(..., quality=100); Pillow reads it
        // back as those inks and converts them to RGB (169, 42, 25).
        float[] x = preprocessor(8).preprocess(resource("cmyk-8x8.jpg"));
        int[] rgb = { 169, 42, 25 };
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < 8; y++) {
                for (int px = 0; px < 8; px++) {
                    assertEquals("channel " + c, expected(rgb[c], 255, 0.5, 0.5), at(x, 8, c, y, px), 1e-6);
                }
            }
        }
    }

    private static byte[] resource(String name) throws IOException {
        try (var in = ImagePreprocessorTests.class.getResourceAsStream(name)) {
            assertNotNull("test resource " + name, in);
            return in.readAllBytes();
        }
    }

    /** A PNG that is only its signature and a valid IHDR chunk: enough for the header, nothing to decode. */
    public static byte[] pngHeaderOnly(int width, int height) {
        ByteBuffer ihdr = ByteBuffer.allocate(13).putInt(width).putInt(height).put((byte) 8).put((byte) 6).put((byte) 0).put((byte) 0).put((byte) 0);
        ByteBuffer png = ByteBuffer.allocate(8 + 12 + 13);
        png.put(new byte[] { (byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' });
        png.putInt(13);
        byte[] type = "IHDR".getBytes(StandardCharsets.US_ASCII);
        png.put(type).put(ihdr.array());
        CRC32 crc = new CRC32();
        crc.update(type);
        crc.update(ihdr.array());
        png.putInt((int) crc.getValue());
        return png.array();
    }
}
