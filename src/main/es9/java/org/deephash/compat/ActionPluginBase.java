package org.deephash.compat;

import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.Plugin;

import java.util.List;

/** A plugin with transport actions; Elasticsearch 9's {@code ActionHandler} lost its type parameters. */
public abstract class ActionPluginBase extends Plugin implements ActionPlugin {

    /** The plugin's transport actions. */
    protected abstract List<PluginAction<?, ?>> actions();

    @Override
    public final List<ActionHandler> getActions() {
        return actions().stream().map(action -> new ActionHandler(action.type(), action.transport())).toList();
    }
}
