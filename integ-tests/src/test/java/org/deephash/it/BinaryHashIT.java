package org.deephash.it;

import com.fasterxml.jackson.databind.node.ObjectNode;

import static org.deephash.it.ItSupport.NODES;

/** {@link BinaryHashSuite} on an index that keeps Elasticsearch's own doc-values formats. */
class BinaryHashIT extends BinaryHashSuite {
    @Override
    protected String indexName() {
        return "deep-hash-it-main";
    }

    @Override
    protected ObjectNode variantSettings(boolean codecSettingSupported) {
        ObjectNode s = NODES.objectNode();
        if (codecSettingSupported) {
            s.put(ItSupport.CODEC_SETTING, false);
        }
        return s;
    }
}
