package org.deephash.it;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Assumptions;

import static org.deephash.it.ItSupport.NODES;

/**
 * {@link BinaryHashSuite} on an index whose binary_hash fields use the plugin's own doc-values
 * format ({@code index.deep_hash.codec: true}); skipped when the installed plugin has no such setting.
 */
class BinaryHashCodecIT extends BinaryHashSuite {
    @Override
    protected String indexName() {
        return "deep-hash-it-codec";
    }

    @Override
    protected ObjectNode variantSettings(boolean codecSettingSupported) {
        if (!codecSettingSupported) {
            String why = "the installed plugin has no [" + ItSupport.CODEC_SETTING + "] setting";
            System.out.println("[" + getClass().getSimpleName() + "] skipped: " + why);
            Assumptions.abort(why);
        }
        return NODES.objectNode().put(ItSupport.CODEC_SETTING, true);
    }
}
