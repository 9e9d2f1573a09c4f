import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Build step (pom.xml, onnxruntime-patch): ONNX Runtime's {@code OrtEnvironment} registers a JVM shutdown
 * hook that frees the native environment at exit, and Elasticsearch 9's entitlements refuse every plugin a
 * shutdown hook ("change JVM global state", never granted), so the model could not load on a 9.x node.
 * This removes the two {@code Runtime.addShutdownHook} calls from the class in the unpacked jar: each
 * becomes a {@code pop2} of its two operands. The process's exit frees the memory anyway. Fails the build
 * unless exactly two calls were found, so that an ONNX Runtime upgrade that changes them is looked at.
 *
 * <p>Run with the JDK's source launcher: {@code java -cp asm.jar PatchOnnxRuntime.java OrtEnvironment.class}.
 */
public final class PatchOnnxRuntime {
    private static final int EXPECTED_CALLS = 2;

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        ClassReader reader = new ClassReader(Files.readAllBytes(file));
        ClassWriter writer = new ClassWriter(reader, 0);
        int[] removed = new int[1];
        reader.accept(new ClassVisitor(Opcodes.ASM9, writer) {
            @Override
            public MethodVisitor visitMethod(int access, String name, String descriptor, String signature, String[] exceptions) {
                return new MethodVisitor(Opcodes.ASM9, super.visitMethod(access, name, descriptor, signature, exceptions)) {
                    @Override
                    public void visitMethodInsn(int opcode, String owner, String method, String desc, boolean isInterface) {
                        if (opcode == Opcodes.INVOKEVIRTUAL && owner.equals("java/lang/Runtime") && method.equals("addShutdownHook")) {
                            super.visitInsn(Opcodes.POP2);
                            removed[0]++;
                        } else {
                            super.visitMethodInsn(opcode, owner, method, desc, isInterface);
                        }
                    }
                };
            }
        }, 0);
        if (removed[0] != EXPECTED_CALLS) {
            throw new IllegalStateException(
                file + ": found " + removed[0] + " Runtime.addShutdownHook calls, expected " + EXPECTED_CALLS + ": check the ONNX Runtime upgrade"
            );
        }
        Files.write(file, writer.toByteArray());
        System.out.println("[onnxruntime-patch] " + file + ": removed " + removed[0] + " Runtime.addShutdownHook calls");
    }
}
